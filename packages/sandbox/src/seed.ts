/**
 * What a fresh sandbox holds: a small but realistic Clipper environment. In AWS (moto, called
 * directly so that seeding is not in the request log): the clpr.tv hosted zone with the public
 * record as two weighted records (legacy Docker Compose at 100, Kubernetes at 0), health checks
 * on both stacks, an EKS cluster with a node group, an RDS PostgreSQL 16 instance with
 * automated backups and a manual snapshot, a backup vault and plan with recovery points, and
 * CloudWatch alarms for the 5xx rate and latency. In Kubernetes: the clipper namespace with the
 * backend and frontend deployments, services, an HPA and an ingress.
 */
import {randomUUID} from 'node:crypto'
import type {BackupService} from './aws-front/backup.js'
import type {K8sStandIn} from './kube-stand-in/server.js'

export const SANDBOX = {
  region: 'us-east-1',
  zone: 'clpr.tv',
  record: 'clpr.tv',
  legacy: {setIdentifier: 'compose', value: '127.0.0.1'},
  // Alias targets are taken on trust by Route 53 for ELB zones; this is the ALB the AWS Load
  // Balancer Controller would make for the clipper ingress (the us-east-1 ALB hosted zone).
  kubernetes: {setIdentifier: 'k8s', aliasDnsName: 'k8s-clipper-ingress-1234567890.us-east-1.elb.amazonaws.com', aliasZoneId: 'Z35SXDOTRQ7X7K'},
  cluster: 'clipper-sandbox',
  namespace: 'clipper',
  deployments: ['clipper-backend', 'clipper-frontend'],
  hpas: ['clipper-backend'],
  db: 'clipper-sandbox',
  vault: 'clipper-sandbox-vault',
  plan: 'clipper-daily',
  alarms: ['clipper-sandbox-5xx-rate', 'clipper-sandbox-p95-latency'],
  account: '123456789012',
} as const

export interface SeedFacts {
  hostedZoneId: string
  healthChecks: {legacy: string; kubernetes: string}
  dbArn: string
  recoveryPoints: string[]
}

const CREDENTIALS = {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}

type SeedOptions = {motoUrl: string; ttl: number; stackPorts: {legacy: number; kubernetes: number}; backup: BackupService}

/** Seed every service at once (they do not depend on each other, but for backups on the DB). */
export async function seedAws(o: SeedOptions): Promise<SeedFacts> {
  const common = {region: SANDBOX.region, endpoint: o.motoUrl, credentials: CREDENTIALS, maxAttempts: 3}
  const [dns, data] = await Promise.all([seedRoute53(o, common), seedData(o, common), seedEks(common), seedAlarms(common)])
  return {...dns, ...data}
}

type Common = {region: string; endpoint: string; credentials: typeof CREDENTIALS; maxAttempts: number}

async function seedRoute53(o: SeedOptions, common: Common): Promise<Pick<SeedFacts, 'hostedZoneId' | 'healthChecks'>> {
  const r53m = await import('@aws-sdk/client-route-53')
  const r53 = new r53m.Route53Client(common)
  const zone = await r53.send(
    new r53m.CreateHostedZoneCommand({Name: SANDBOX.zone, CallerReference: randomUUID(), HostedZoneConfig: {Comment: 'Clipper public zone (sandbox)', PrivateZone: false}}),
  )
  const hostedZoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '')
  const healthCheck = async (port: number) => {
    const hc = await r53.send(
      new r53m.CreateHealthCheckCommand({
        CallerReference: randomUUID(),
        HealthCheckConfig: {Type: 'HTTP', IPAddress: '127.0.0.1', Port: port, ResourcePath: '/health', RequestInterval: 10, FailureThreshold: 3},
      }),
    )
    return hc.HealthCheck!.Id!
  }
  const [legacyCheck, kubernetesCheck] = await Promise.all([healthCheck(o.stackPorts.legacy), healthCheck(o.stackPorts.kubernetes)])
  const healthChecks = {legacy: legacyCheck, kubernetes: kubernetesCheck}
  await r53.send(
    new r53m.ChangeResourceRecordSetsCommand({
      HostedZoneId: hostedZoneId,
      ChangeBatch: {
        Comment: 'sandbox seed: all traffic on the legacy Docker Compose host',
        Changes: [
          {
            Action: 'CREATE',
            ResourceRecordSet: {
              Name: `${SANDBOX.record}.`,
              Type: 'A',
              SetIdentifier: SANDBOX.legacy.setIdentifier,
              Weight: 100,
              TTL: o.ttl,
              ResourceRecords: [{Value: SANDBOX.legacy.value}],
              HealthCheckId: healthChecks.legacy,
            },
          },
          {
            Action: 'CREATE',
            ResourceRecordSet: {
              Name: `${SANDBOX.record}.`,
              Type: 'A',
              SetIdentifier: SANDBOX.kubernetes.setIdentifier,
              Weight: 0,
              AliasTarget: {DNSName: SANDBOX.kubernetes.aliasDnsName, HostedZoneId: SANDBOX.kubernetes.aliasZoneId, EvaluateTargetHealth: false},
              HealthCheckId: healthChecks.kubernetes,
            },
          },
          {Action: 'CREATE', ResourceRecordSet: {Name: `www.${SANDBOX.zone}.`, Type: 'CNAME', TTL: 300, ResourceRecords: [{Value: SANDBOX.record}]}},
        ],
      },
    }),
  )
  r53.destroy()
  return {hostedZoneId, healthChecks}
}

async function seedEks(common: Common): Promise<void> {
  const eksm = await import('@aws-sdk/client-eks')
  const eks = new eksm.EKSClient(common)
  const role = `arn:aws:iam::${SANDBOX.account}:role/clipper-eks`
  await eks.send(
    new eksm.CreateClusterCommand({name: SANDBOX.cluster, version: '1.29', roleArn: role, resourcesVpcConfig: {subnetIds: ['subnet-0a1', 'subnet-0b2', 'subnet-0c3']}}),
  )
  await eks.send(
    new eksm.CreateNodegroupCommand({
      clusterName: SANDBOX.cluster,
      nodegroupName: 'clipper-nodes',
      nodeRole: `arn:aws:iam::${SANDBOX.account}:role/clipper-nodes`,
      subnets: ['subnet-0a1', 'subnet-0b2', 'subnet-0c3'],
      instanceTypes: ['t3.medium'],
      scalingConfig: {minSize: 2, maxSize: 10, desiredSize: 3},
    }),
  )
  eks.destroy()
}

async function seedData(o: SeedOptions, common: Common): Promise<Pick<SeedFacts, 'dbArn' | 'recoveryPoints'>> {
  const [rdsm, bm] = await Promise.all([import('@aws-sdk/client-rds'), import('@aws-sdk/client-backup')])
  const rds = new rdsm.RDSClient(common)
  const backup = new bm.BackupClient(common)
  // The database and the backup vault and plan do not depend on each other: make them at once.
  const [db, plan] = await Promise.all([
    rds.send(
      new rdsm.CreateDBInstanceCommand({
        DBInstanceIdentifier: SANDBOX.db,
        Engine: 'postgres',
        EngineVersion: '16.4',
        DBInstanceClass: 'db.t4g.medium',
        AllocatedStorage: 20,
        MaxAllocatedStorage: 100,
        StorageType: 'gp3',
        StorageEncrypted: true,
        MasterUsername: 'clipper',
        // moto needs one; it is not a secret (nothing listens), and it is never printed.
        MasterUserPassword: randomUUID(),
        BackupRetentionPeriod: 7,
        MultiAZ: false,
        DBName: 'clipper',
      }),
    ),
    backup.send(new bm.CreateBackupVaultCommand({BackupVaultName: SANDBOX.vault})).then(() =>
      backup.send(
        new bm.CreateBackupPlanCommand({
          BackupPlan: {
            BackupPlanName: SANDBOX.plan,
            Rules: [{RuleName: 'daily', TargetBackupVaultName: SANDBOX.vault, ScheduleExpression: 'cron(0 2 * * ? *)', Lifecycle: {DeleteAfterDays: 7}}],
          },
        }),
      ),
    ),
  ])
  const dbArn = db.DBInstance!.DBInstanceArn!
  // Daily points for three days, and one from a few minutes ago (inside the 15-minute RPO).
  const [, , ...points] = await Promise.all([
    rds.send(new rdsm.CreateDBSnapshotCommand({DBInstanceIdentifier: SANDBOX.db, DBSnapshotIdentifier: 'clipper-sandbox-before-cutover'})),
    backup
      .send(
        new bm.CreateBackupSelectionCommand({
          BackupPlanId: plan.BackupPlanId!,
          BackupSelection: {SelectionName: 'clipper-rds', IamRoleArn: `arn:aws:iam::${SANDBOX.account}:role/service-role/AWSBackupDefaultServiceRole`, Resources: [dbArn]},
        }),
      )
      .catch(() => undefined), // moto may not know selections; the plan and its vault are what runbooks read
    ...[3 * 86_400_000, 2 * 86_400_000, 86_400_000, 5 * 60_000].map((ago) =>
      o.backup.seedRecoveryPoint({backupVaultName: SANDBOX.vault, resourceArn: dbArn, creationDate: new Date(Date.now() - ago)}),
    ),
  ])
  rds.destroy()
  backup.destroy()
  return {dbArn, recoveryPoints: points.map((p) => (p as {RecoveryPointArn: string}).RecoveryPointArn)}
}

async function seedAlarms(common: Common): Promise<void> {
  const cwm = await import('@aws-sdk/client-cloudwatch')
  const cw = new cwm.CloudWatchClient(common)
  const lb = 'app/k8s-clipper-ingress/1234567890abcdef'
  await Promise.all([
    cw.send(
      new cwm.PutMetricAlarmCommand({
        AlarmName: SANDBOX.alarms[0],
        AlarmDescription: 'Clipper 5xx responses above the 0.1% error budget',
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Dimensions: [{Name: 'LoadBalancer', Value: lb}],
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 3,
        Threshold: 10,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ),
    cw.send(
      new cwm.PutMetricAlarmCommand({
        AlarmName: SANDBOX.alarms[1],
        AlarmDescription: 'Clipper p95 latency above 200 ms',
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'TargetResponseTime',
        Dimensions: [{Name: 'LoadBalancer', Value: lb}],
        ExtendedStatistic: 'p95',
        Period: 60,
        EvaluationPeriods: 3,
        Threshold: 0.2,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ),
  ])
  // moto starts alarms in OK (AWS would say INSUFFICIENT_DATA until the first datapoints): the
  // healthy state the sandbox wants, without a SetAlarmState each.
  cw.destroy()
}

export function seedKubernetes(k8s: K8sStandIn): void {
  const ns = SANDBOX.namespace
  const labels = (app: string) => ({'app.kubernetes.io/name': app, 'app.kubernetes.io/part-of': 'clipper'})
  const deployment = (name: string, replicas: number, image: string, port: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name, namespace: ns, labels: labels(name)},
    spec: {
      replicas,
      selector: {matchLabels: labels(name)},
      template: {
        metadata: {labels: labels(name)},
        spec: {containers: [{name: name.replace('clipper-', ''), image, ports: [{containerPort: port}], readinessProbe: {httpGet: {path: '/health', port}}}]},
      },
    },
  })
  const service = (name: string, port: number) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {name, namespace: ns, labels: labels(name)},
    spec: {selector: labels(name), ports: [{port: 80, targetPort: port}]},
  })
  k8s.seed([
    {apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns, labels: {'app.kubernetes.io/part-of': 'clipper'}}},
    deployment('clipper-backend', 3, 'ghcr.io/subculture-collective/clipper-backend:5.0.0', 8080),
    deployment('clipper-frontend', 2, 'ghcr.io/subculture-collective/clipper-frontend:5.0.0', 3000),
    service('clipper-backend', 8080),
    service('clipper-frontend', 3000),
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {name: 'clipper-backend', namespace: ns},
      spec: {
        scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: 'clipper-backend'},
        minReplicas: 3,
        maxReplicas: 20,
        metrics: [{type: 'Resource', resource: {name: 'cpu', target: {type: 'Utilization', averageUtilization: 70}}}],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {name: 'clipper', namespace: ns, annotations: {'alb.ingress.kubernetes.io/scheme': 'internet-facing', 'cert-manager.io/cluster-issuer': 'letsencrypt'}},
      spec: {
        ingressClassName: 'alb',
        rules: [{host: SANDBOX.record, http: {paths: [{path: '/', pathType: 'Prefix', backend: {service: {name: 'clipper-frontend', port: {number: 80}}}}]}}],
      },
      status: {loadBalancer: {ingress: [{hostname: SANDBOX.kubernetes.aliasDnsName}]}},
    },
  ])
}

/** The Kubernetes stack is healthy when its deployments are available (as its ingress would be). */
export function kubernetesHealthy(k8s: K8sStandIn): boolean {
  return SANDBOX.deployments.every((name) => {
    const d = k8s.store.find('apps/v1', 'Deployment', SANDBOX.namespace, name) as {spec?: {replicas?: number}; status?: {availableReplicas?: number}} | undefined
    return d !== undefined && (d.status?.availableReplicas ?? 0) >= (d.spec?.replicas ?? 1)
  })
}
