/**
 * SDK clients the front itself uses to talk to moto (reading Route 53 zones, making RDS snapshots
 * for Backup). These calls go straight to moto, so they are not in the request log.
 */
import {BackupClient} from '@aws-sdk/client-backup'
import {EKSClient} from '@aws-sdk/client-eks'
import {RDSClient} from '@aws-sdk/client-rds'
import {Route53Client} from '@aws-sdk/client-route-53'

const CREDENTIALS = {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}

export class MotoClients {
  private readonly rdsClients = new Map<string, RDSClient>()
  private readonly backupClients = new Map<string, BackupClient>()
  private readonly eksClients = new Map<string, EKSClient>()
  private route53Client?: Route53Client

  constructor(private readonly endpoint: string) {}

  route53(): Route53Client {
    this.route53Client ??= new Route53Client({endpoint: this.endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 2})
    return this.route53Client
  }

  rds(region: string): RDSClient {
    let c = this.rdsClients.get(region)
    if (!c) this.rdsClients.set(region, (c = new RDSClient({endpoint: this.endpoint, region, credentials: CREDENTIALS, maxAttempts: 2})))
    return c
  }

  backup(region: string): BackupClient {
    let c = this.backupClients.get(region)
    if (!c) this.backupClients.set(region, (c = new BackupClient({endpoint: this.endpoint, region, credentials: CREDENTIALS, maxAttempts: 2})))
    return c
  }

  eks(region: string): EKSClient {
    let c = this.eksClients.get(region)
    if (!c) this.eksClients.set(region, (c = new EKSClient({endpoint: this.endpoint, region, credentials: CREDENTIALS, maxAttempts: 2})))
    return c
  }

  destroy(): void {
    for (const c of this.eksClients.values()) c.destroy()
    this.route53Client?.destroy()
    for (const c of this.rdsClients.values()) c.destroy()
    for (const c of this.backupClients.values()) c.destroy()
  }
}
