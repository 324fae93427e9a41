/**
 * What a fresh sandbox holds: a small but realistic Clipper environment. In AWS (moto, called
 * directly so that seeding is not in the request log): the clpr.tv hosted zone with the public
 * record as two weighted records (legacy Docker Compose at 100, Kubernetes at 0), health checks
 * on both stacks, an EKS cluster with a node group, an RDS PostgreSQL 16 instance (in its own
 * subnet group, security group and parameter group; a real PostgreSQL backs it, see postgres/)
 * with automated backups and a manual snapshot, a backup vault and plan with recovery points,
 * and CloudWatch alarms for the 5xx rate and latency. In the secondary region (us-west-2), what a
 * region-wide recovery restores into: a VPC with two subnets, a DB subnet group, security group and
 * parameter group, and a copy of the manual snapshot. In Kubernetes: the clipper namespace with the
 * backend and frontend deployments, services, an HPA and an ingress.
 */
import {randomUUID} from 'node:crypto'
import type {BackupService} from './aws-front/backup.js'
import type {EksExtras} from './aws-front/eks-extras.js'
import type {RdsPostgres} from './aws-front/rds-postgres.js'
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
  // What a restore of it is made with (copied from it, as clipper-ops's restores do).
  dbSubnetGroup: 'clipper-sandbox-db',
  dbSecurityGroup: 'clipper-sandbox-db',
  dbParameterGroup: 'clipper-sandbox-pg16',
  dbSnapshot: 'clipper-sandbox-before-cutover',
  // The secondary region a region-wide recovery restores in: its network, and copies of the
  // database's snapshots (the seeded one, and one every --snapshot-copy-interval while it runs).
  secondaryRegion: 'us-west-2',
  vpcWest: 'clipper-sandbox-west',
  zonesWest: ['us-west-2a', 'us-west-2b'],
  dbSubnetGroupWest: 'clipper-sandbox-db-west',
  dbSecurityGroupWest: 'clipper-sandbox-db-west',
  dbParameterGroupWest: 'clipper-sandbox-pg16-west',
  dbSnapshotWest: 'clipper-sandbox-before-cutover-west',
  /** Seconds between the snapshots copied to the secondary region (the default of sandbox up --snapshot-copy-interval). */
  snapshotCopyEverySeconds: 60,
  // The environment variable the sandbox environment's tools get the database's URL in.
  databaseUrlEnv: 'CLIPPER_SANDBOX_DATABASE_URL',
  vault: 'clipper-sandbox-vault',
  plan: 'clipper-daily',
  alarms: ['clipper-sandbox-5xx-rate', 'clipper-sandbox-p95-latency'],
  account: '123456789012',
  // The platform as Terraform leaves it (the seeds' layout), for verify --phase post.
  vpc: 'clipper-sandbox',
  zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
  nodegroup: 'clipper-nodes',
  nodes: 3,
  addons: ['vpc-cni', 'coredns', 'kube-proxy'],
  redis: 'clipper-sandbox',
  uploads: 'clipper-sandbox-uploads',
  // Terraform's S3 backend: made before the first provision (bootstrap), as the seeds say.
  stateBucket: 'clipper-sandbox-tfstate',
  /** The on-call team's shared run state (the sandbox-team environment: state: s3://…). */
  teamStateBucket: 'clipper-ops-team-state',
  stateKey: 'clipper/sandbox.tfstate',
  lockTable: 'clipper-sandbox-tflock',
  images: {'clipper-backend': '5.0.0', 'clipper-frontend': '5.0.0', 'clipper-worker': '5.0.0'},
  targetGroup: 'clipper-frontend',
} as const

export interface SeedFacts {
  hostedZoneId: string
  healthChecks: {legacy: string; kubernetes: string}
  dbArn: string
  recoveryPoints: string[]
  network: SandboxNetwork
  /** Where a restore in the secondary region goes. */
  secondary: SecondaryNetwork
}

/** The secondary region's VPC, subnets and the database's security group there. */
export interface SecondaryNetwork {
  region: string
  vpcId: string
  subnetIds: string[]
  securityGroupId: string
}

/** The VPC and its subnets, made first: the database lives in the private ones. */
export interface SandboxNetwork {
  vpcId: string
  subnets: {zone: string; publicId: string; privateId: string}[]
}

const CREDENTIALS = {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}

type SeedOptions = {
  motoUrl: string
  ttl: number
  stackPorts: {legacy: number; kubernetes: number}
  backup: BackupService
  eks: EksExtras
  kubernetesApi: string
  /** The master password of the RDS instance: the real database's, when one backs it. */
  dbPassword?: string
  /** The front's RDS: told of the snapshot copy seeded straight in moto, so it answers for it as AWS would. */
  rds?: Pick<RdsPostgres, 'recordCopy'>
}

/** Seed every service at once (they do not depend on each other, but for backups on the DB). */
export async function seedAws(o: SeedOptions): Promise<SeedFacts> {
  const common = motoClientConfig(o.motoUrl)
  // moto is not thread-safe and builds its EC2 backends lazily: two regions' first EC2 calls at once
  // once answered CreateVpc without its Vpc (CI, 2026-12-02). The second region's EC2 waits for the first's.
  const network = seedVpc(common)
  const [dns, data, secondary] = await Promise.all([
    seedRoute53(o, common),
    network.then((n) => seedData(o, common, n)),
    network.then(() => seedSecondary({...common, region: SANDBOX.secondaryRegion})),
    seedEks(common).then(() => {
      o.eks.seedAddons(SANDBOX.region, SANDBOX.cluster, [...SANDBOX.addons])
      o.eks.setEndpoint(o.kubernetesApi)
    }),
    seedAlarms(common),
  ])
  return {...dns, ...data, network: await network, secondary}
}

/** AWS services only the provisioned platform's seeding touches (the front holds them until it is done). */
export const PLATFORM_SERVICES = ['ec2', 'elasticloadbalancing', 'elasticache', 's3', 'acm', 'ecr', 'dynamodb']

/**
 * The rest of the platform as Terraform leaves it (VPC, load balancer targets, ElastiCache, S3,
 * the state bucket and lock table, ACM, ECR): what verify --phase post reads. Seeded after the
 * sandbox is ready, in the background: rehearsing a cutover needs none of it.
 */
export async function seedPlatform(motoUrl: string, network: SandboxNetwork): Promise<void> {
  const common = motoClientConfig(motoUrl)
  await Promise.all([seedNetwork(common, network), seedServices(common)])
}

type Common = {region: string; endpoint: string; credentials: typeof CREDENTIALS; maxAttempts: number}

/** An SDK client's config for moto itself, in the sandbox's region (seeding talks to moto, not the front). */
const motoClientConfig = (motoUrl: string): Common => ({region: SANDBOX.region, endpoint: motoUrl, credentials: CREDENTIALS, maxAttempts: 3})

/** The weighted pair as seeded: all traffic on the legacy Docker Compose host (seed, and sandbox reset --traffic). */
export function trafficRecords(ttl: number, healthChecks: {legacy: string; kubernetes: string}) {
  return [
    {
      Action: 'CREATE',
      ResourceRecordSet: {
        Name: `${SANDBOX.record}.`,
        Type: 'A',
        SetIdentifier: SANDBOX.legacy.setIdentifier,
        Weight: 100,
        TTL: ttl,
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
  ] satisfies import('@aws-sdk/client-route-53').Change[]
}

/**
 * sandbox reset --traffic: the zone's records back to the seed's (all traffic on legacy, no lock,
 * nothing a run or a colleague added) in one batch straight at moto, in the zone that exists.
 */
export async function resetTrafficRecords(motoUrl: string, facts: Pick<SeedFacts, 'hostedZoneId' | 'healthChecks'>, ttl: number): Promise<void> {
  const r53m = await import('@aws-sdk/client-route-53')
  const r53 = new r53m.Route53Client(motoClientConfig(motoUrl))
  // The pair is put back by UPSERT (as seeded, whatever a run made of it); anything else added goes.
  const kept = new Set([`www.${SANDBOX.zone}.`, `${SANDBOX.record}.`])
  const live = (await r53.send(new r53m.ListResourceRecordSetsCommand({HostedZoneId: facts.hostedZoneId}))).ResourceRecordSets ?? []
  const extra = live.filter((r) => !['NS', 'SOA'].includes(r.Type ?? '') && !kept.has(r.Name ?? ''))
  await r53.send(
    new r53m.ChangeResourceRecordSetsCommand({
      HostedZoneId: facts.hostedZoneId,
      ChangeBatch: {
        Comment: 'sandbox reset --traffic',
        Changes: [
          ...extra.map((r) => ({Action: 'DELETE' as const, ResourceRecordSet: r})),
          ...trafficRecords(ttl, facts.healthChecks).map((c) => ({...c, Action: 'UPSERT' as const})),
        ],
      },
    }),
  )
  r53.destroy()
}

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
          ...trafficRecords(o.ttl, healthChecks),
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
      scalingConfig: {minSize: 2, maxSize: 10, desiredSize: SANDBOX.nodes},
    }),
  )
  eks.destroy()
}

const BACKUP_ROLE = 'AWSBackupDefaultServiceRole'

/** The role AWS Backup assumes to back up and restore (what a restore's dry run checks exists). */
async function backupRole(common: Common): Promise<void> {
  const iamm = await import('@aws-sdk/client-iam')
  const iam = new iamm.IAMClient(common)
  const trust = {Version: '2012-10-17', Statement: [{Effect: 'Allow', Principal: {Service: 'backup.amazonaws.com'}, Action: 'sts:AssumeRole'}]}
  await iam.send(new iamm.CreateRoleCommand({RoleName: BACKUP_ROLE, Path: '/service-role/', AssumeRolePolicyDocument: JSON.stringify(trust)}))
  iam.destroy()
}

async function seedData(o: SeedOptions, common: Common, network: SandboxNetwork): Promise<Pick<SeedFacts, 'dbArn' | 'recoveryPoints'>> {
  const [rdsm, bm, ec2m] = await Promise.all([import('@aws-sdk/client-rds'), import('@aws-sdk/client-backup'), import('@aws-sdk/client-ec2')])
  const rds = new rdsm.RDSClient(common)
  const backup = new bm.BackupClient(common)
  const ec2 = new ec2m.EC2Client(common)
  // Where the database lives, as Terraform would leave it: private subnets, its own security
  // group and parameter group. A restore passes them on, and moto records what it was given.
  const [securityGroup] = await Promise.all([
    ec2
      .send(
        new ec2m.CreateSecurityGroupCommand({
          GroupName: SANDBOX.dbSecurityGroup,
          Description: 'Clipper PostgreSQL: from the cluster only',
          VpcId: network.vpcId,
          TagSpecifications: [{ResourceType: 'security-group', Tags: [{Key: 'Name', Value: SANDBOX.dbSecurityGroup}]}],
        }),
      )
      .then((g) => g.GroupId!),
    rds.send(
      new rdsm.CreateDBSubnetGroupCommand({
        DBSubnetGroupName: SANDBOX.dbSubnetGroup,
        DBSubnetGroupDescription: 'Clipper PostgreSQL: the private subnets',
        SubnetIds: network.subnets.map((s) => s.privateId),
      }),
    ),
    rds.send(new rdsm.CreateDBParameterGroupCommand({DBParameterGroupName: SANDBOX.dbParameterGroup, DBParameterGroupFamily: 'postgres16', Description: 'Clipper PostgreSQL 16'})),
  ])
  ec2.destroy()
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
        // The real database's password when one backs the instance (moto never answers it).
        MasterUserPassword: o.dbPassword ?? randomUUID(),
        BackupRetentionPeriod: 7,
        MultiAZ: true,
        DBName: 'clipper',
        DBSubnetGroupName: SANDBOX.dbSubnetGroup,
        VpcSecurityGroupIds: [securityGroup],
        DBParameterGroupName: SANDBOX.dbParameterGroup,
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
  const [, , , ...points] = await Promise.all([
    rds
      .send(new rdsm.CreateDBSnapshotCommand({DBInstanceIdentifier: SANDBOX.db, DBSnapshotIdentifier: SANDBOX.dbSnapshot}))
      .then((s) => seedCopy(common, s.DBSnapshot!.DBSnapshotArn!, o)),
    backup
      .send(
        new bm.CreateBackupSelectionCommand({
          BackupPlanId: plan.BackupPlanId!,
          BackupSelection: {SelectionName: 'clipper-rds', IamRoleArn: `arn:aws:iam::${SANDBOX.account}:role/service-role/${BACKUP_ROLE}`, Resources: [dbArn]},
        }),
      )
      .catch(() => undefined), // moto may not know selections; the plan and its vault are what runbooks read
    backupRole(common),
    ...[3 * 86_400_000, 2 * 86_400_000, 86_400_000, 5 * 60_000].map((ago) =>
      o.backup.seedRecoveryPoint({backupVaultName: SANDBOX.vault, resourceArn: dbArn, creationDate: new Date(Date.now() - ago)}),
    ),
  ])
  rds.destroy()
  backup.destroy()
  return {dbArn, recoveryPoints: points.map((p) => (p as {RecoveryPointArn: string}).RecoveryPointArn)}
}

/** The manual snapshot copied to the secondary region, as the copy rule that keeps it there did. */
async function seedCopy(common: Common, sourceArn: string, o: SeedOptions): Promise<void> {
  const rdsm = await import('@aws-sdk/client-rds')
  const west = new rdsm.RDSClient({...common, region: SANDBOX.secondaryRegion})
  await west.send(new rdsm.CopyDBSnapshotCommand({SourceDBSnapshotIdentifier: sourceArn, TargetDBSnapshotIdentifier: SANDBOX.dbSnapshotWest}))
  o.rds?.recordCopy({region: SANDBOX.secondaryRegion, id: SANDBOX.dbSnapshotWest, sourceArn})
  west.destroy()
}

/** The secondary region's network for the database: a VPC, two private subnets, the DB subnet group, security group and parameter group. */
async function seedSecondary(common: Common): Promise<SecondaryNetwork> {
  const [ec2m, rdsm] = await Promise.all([import('@aws-sdk/client-ec2'), import('@aws-sdk/client-rds')])
  const ec2 = new ec2m.EC2Client(common)
  const rds = new rdsm.RDSClient(common)
  const vpcId = (await ec2.send(new ec2m.CreateVpcCommand({CidrBlock: '10.1.0.0/16', TagSpecifications: tagged('vpc', SANDBOX.vpcWest)}))).Vpc!.VpcId!
  const [securityGroupId, ...subnetIds] = await Promise.all([
    ec2
      .send(
        new ec2m.CreateSecurityGroupCommand({
          GroupName: SANDBOX.dbSecurityGroupWest,
          Description: 'Clipper PostgreSQL (secondary region): from the cluster only',
          VpcId: vpcId,
          TagSpecifications: [{ResourceType: 'security-group', Tags: [{Key: 'Name', Value: SANDBOX.dbSecurityGroupWest}]}],
        }),
      )
      .then((g) => g.GroupId!),
    ...SANDBOX.zonesWest.map(
      async (zone, i) =>
        (
          await ec2.send(
            new ec2m.CreateSubnetCommand({
              VpcId: vpcId,
              CidrBlock: `10.1.${10 + i}.0/24`,
              AvailabilityZone: zone,
              TagSpecifications: tagged('subnet', `${SANDBOX.vpcWest}-private-${zone}`),
            }),
          )
        ).Subnet!.SubnetId!,
    ),
  ])
  await Promise.all([
    rds.send(
      new rdsm.CreateDBSubnetGroupCommand({
        DBSubnetGroupName: SANDBOX.dbSubnetGroupWest,
        DBSubnetGroupDescription: 'Clipper PostgreSQL (secondary region): the private subnets',
        SubnetIds: subnetIds,
      }),
    ),
    rds.send(
      new rdsm.CreateDBParameterGroupCommand({
        DBParameterGroupName: SANDBOX.dbParameterGroupWest,
        DBParameterGroupFamily: 'postgres16',
        Description: 'Clipper PostgreSQL 16 (secondary region)',
      }),
    ),
  ])
  ec2.destroy()
  rds.destroy()
  return {region: common.region, vpcId, subnetIds, securityGroupId: securityGroupId!}
}

const tagged = <T extends string>(type: T, name: string) => [{ResourceType: type, Tags: [{Key: 'Name', Value: name}]}]

/** The VPC of the seeds' layout and its subnets, a public and a private one per zone (the database's subnet group needs them). */
async function seedVpc(common: Common): Promise<SandboxNetwork> {
  const m = await import('@aws-sdk/client-ec2')
  const ec2 = new m.EC2Client(common)
  const vpcId = (await ec2.send(new m.CreateVpcCommand({CidrBlock: '10.0.0.0/16', TagSpecifications: tagged('vpc', SANDBOX.vpc)}))).Vpc!.VpcId!
  const subnets = await Promise.all(
    SANDBOX.zones.map(async (zone, i) => {
      const subnet = async (kind: string, cidr: string) =>
        (await ec2.send(new m.CreateSubnetCommand({VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: zone, TagSpecifications: tagged('subnet', `${SANDBOX.vpc}-${kind}-${zone}`)})))
          .Subnet!.SubnetId!
      const [publicId, privateId] = await Promise.all([subnet('public', `10.0.${i}.0/24`), subnet('private', `10.0.${10 + i}.0/24`)])
      return {zone, publicId, privateId}
    }),
  )
  ec2.destroy()
  return {vpcId, subnets}
}

/** The rest of the VPC of the seeds' layout: routes to the internet, a NAT gateway in each zone. */
async function seedNetwork(common: Common, network: SandboxNetwork): Promise<void> {
  const m = await import('@aws-sdk/client-ec2')
  const ec2 = new m.EC2Client(common)
  const vpc = network.vpcId
  const igw = (await ec2.send(new m.CreateInternetGatewayCommand({TagSpecifications: tagged('internet-gateway', `${SANDBOX.vpc}-igw`)}))).InternetGateway!.InternetGatewayId!
  await ec2.send(new m.AttachInternetGatewayCommand({InternetGatewayId: igw, VpcId: vpc}))
  const publicTable = (await ec2.send(new m.CreateRouteTableCommand({VpcId: vpc, TagSpecifications: tagged('route-table', `${SANDBOX.vpc}-public`)}))).RouteTable!.RouteTableId!
  await ec2.send(new m.CreateRouteCommand({RouteTableId: publicTable, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw}))
  await Promise.all(
    network.subnets.map(async ({zone, publicId: pub, privateId: priv}) => {
      await ec2.send(new m.AssociateRouteTableCommand({RouteTableId: publicTable, SubnetId: pub}))
      const eip = (await ec2.send(new m.AllocateAddressCommand({Domain: 'vpc'}))).AllocationId!
      const nat = (await ec2.send(new m.CreateNatGatewayCommand({SubnetId: pub, AllocationId: eip, TagSpecifications: tagged('natgateway', `${SANDBOX.vpc}-nat-${zone}`)})))
        .NatGateway!.NatGatewayId!
      const table = (await ec2.send(new m.CreateRouteTableCommand({VpcId: vpc, TagSpecifications: tagged('route-table', `${SANDBOX.vpc}-private-${zone}`)}))).RouteTable!
        .RouteTableId!
      await ec2.send(new m.CreateRouteCommand({RouteTableId: table, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat}))
      await ec2.send(new m.AssociateRouteTableCommand({RouteTableId: table, SubnetId: priv}))
    }),
  )
  // The ALB's target group, with the frontend pods registered and healthy.
  const elbm = await import('@aws-sdk/client-elastic-load-balancing-v2')
  const elb = new elbm.ElasticLoadBalancingV2Client(common)
  const tg = (
    await elb.send(new elbm.CreateTargetGroupCommand({Name: SANDBOX.targetGroup, Protocol: 'HTTP', Port: 3000, VpcId: vpc, TargetType: 'ip', HealthCheckPath: '/health'}))
  ).TargetGroups![0]!
  await elb.send(
    new elbm.RegisterTargetsCommand({
      TargetGroupArn: tg.TargetGroupArn,
      Targets: [
        {Id: '10.0.10.21', Port: 3000},
        {Id: '10.0.11.22', Port: 3000},
      ],
    }),
  )
  ec2.destroy()
  elb.destroy()
}

/** ElastiCache, S3 (uploads, and Terraform's state), the state lock table, ACM, ECR. */
async function seedServices(common: Common): Promise<void> {
  const [ecm, s3m, ddbm, acmm, ecrm] = await Promise.all([
    import('@aws-sdk/client-elasticache'),
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/client-acm'),
    import('@aws-sdk/client-ecr'),
  ])
  const ec = new ecm.ElastiCacheClient(common)
  const s3 = new s3m.S3Client({...common, forcePathStyle: true})
  const ddb = new ddbm.DynamoDBClient(common)
  const acm = new acmm.ACMClient(common)
  const ecr = new ecrm.ECRClient(common)
  const bucket = async (name: string) => {
    await s3.send(new s3m.CreateBucketCommand({Bucket: name}))
    await Promise.all([
      s3.send(new s3m.PutBucketVersioningCommand({Bucket: name, VersioningConfiguration: {Status: 'Enabled'}})),
      s3.send(new s3m.PutBucketEncryptionCommand({Bucket: name, ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms'}}]}})),
      s3.send(
        new s3m.PutPublicAccessBlockCommand({
          Bucket: name,
          PublicAccessBlockConfiguration: {BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true},
        }),
      ),
    ])
  }
  // An image manifest as a registry stores it; ECR keys images by its digest.
  const manifest = (tag: string) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {mediaType: 'application/vnd.docker.container.image.v1+json', size: 1469, digest: `sha256:${Buffer.from(tag.padEnd(32, '0')).toString('hex').slice(0, 64)}`},
      layers: [],
    })
  await Promise.all([
    ec.send(
      new ecm.CreateReplicationGroupCommand({
        ReplicationGroupId: SANDBOX.redis,
        ReplicationGroupDescription: 'Clipper sessions and query cache',
        Engine: 'redis',
        CacheNodeType: 'cache.t3.micro',
        NumCacheClusters: 2,
        AutomaticFailoverEnabled: true,
        MultiAZEnabled: true,
        AtRestEncryptionEnabled: true,
        TransitEncryptionEnabled: true,
      }),
    ),
    bucket(SANDBOX.uploads),
    bucket(SANDBOX.stateBucket),
    bucket(SANDBOX.teamStateBucket),
    ddb.send(
      new ddbm.CreateTableCommand({
        TableName: SANDBOX.lockTable,
        KeySchema: [{AttributeName: 'LockID', KeyType: 'HASH'}],
        AttributeDefinitions: [{AttributeName: 'LockID', AttributeType: 'S'}],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    ),
    acm.send(new acmm.RequestCertificateCommand({DomainName: SANDBOX.zone, SubjectAlternativeNames: [`*.${SANDBOX.zone}`], ValidationMethod: 'DNS'})),
    ...Object.entries(SANDBOX.images).map(async ([repo, tag]) => {
      await ecr.send(new ecrm.CreateRepositoryCommand({repositoryName: repo, imageScanningConfiguration: {scanOnPush: true}}))
      await ecr.send(new ecrm.PutImageCommand({repositoryName: repo, imageTag: tag, imageManifest: manifest(`${repo}:${tag}`)}))
    }),
  ])
  for (const c of [ec, s3, ddb, acm, ecr]) c.destroy()
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
  // The node group's nodes, one per zone, as EKS registers them (instead of a bare cluster's two).
  const nodes = k8s.store.resourceOf({apiVersion: 'v1', kind: 'Node'})
  for (const n of k8s.store.list(nodes)) k8s.store.delete(nodes, undefined, n.metadata.name!)
  for (let i = 0; i < SANDBOX.nodes; i++) {
    const zone = SANDBOX.zones[i % SANDBOX.zones.length]!
    k8s.putNode(`ip-10-0-${10 + (i % 3)}-${21 + i}.ec2.internal`, {
      ip: `10.0.${10 + (i % 3)}.${21 + i}`,
      zone,
      instanceType: 't3.medium',
      labels: {'eks.amazonaws.com/nodegroup': SANDBOX.nodegroup},
    })
  }
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
