/**
 * Checks that read AWS: who we are, the Terraform state and its lock, and the parts of the
 * platform the infrastructure record lists (VPC, EKS, RDS, ElastiCache, S3, ACM, ECR, load
 * balancer targets, AWS Backup). Every client and command module is imported inside its check.
 */
import {awsClient, awsErrorName, callerIdentity} from '../aws/clients.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {fail, pass, verdict, warn, type Check} from './check.js'
import {imagesOfReleases} from './images.js'

const DAY = 86_400_000

const identity: Check = {
  id: 'aws-identity',
  phase: 'pre',
  title: 'AWS caller identity and account',
  applies: (env) => Boolean(env.aws),
  async run(_ctx, env) {
    const id = await callerIdentity(env)
    if (!id) return fail('GetCallerIdentity returned no identity')
    const want = env.aws?.accountId
    if (want && id.account !== want) return fail(`credentials are for account ${id.account} (${id.arn}), but aws.accountId is ${want}`)
    return pass(`${id.arn} (account ${id.account}${want ? ', as configured' : ''})`)
  },
}

const region: Check = {
  id: 'aws-region',
  phase: 'pre',
  title: 'AWS region answers',
  applies: (env) => Boolean(env.aws),
  async run(ctx, env) {
    const ec2 = await awsClient('ec2', env)
    const {DescribeAvailabilityZonesCommand} = await import('@aws-sdk/client-ec2')
    const r = await ec2.send(new DescribeAvailabilityZonesCommand({}), {abortSignal: ctx.signal})
    const zones = (r.AvailabilityZones ?? []).filter((z) => z.State === 'available').map((z) => z.ZoneName)
    return zones.length ? pass(`${env.aws!.region}: ${zones.length} zone(s) available (${zones.join(', ')})`) : fail(`${env.aws!.region} reports no available zone`)
  },
}

const terraformState: Check = {
  id: 'terraform-state',
  phase: 'pre',
  title: 'Terraform state readable, lock free',
  applies: (env) => Boolean(env.terraform?.backend && env.aws),
  async run(ctx, env) {
    const b = env.terraform!.backend!
    const s3 = await awsClient('s3', env)
    const {HeadObjectCommand, HeadBucketCommand} = await import('@aws-sdk/client-s3')
    try {
      await s3.send(new HeadBucketCommand({Bucket: b.bucket}), {abortSignal: ctx.signal})
    } catch (error) {
      return fail(`state bucket s3://${b.bucket} cannot be read (${awsErrorName(error)}); create it (and the lock table) before the first provision`)
    }
    let state: string
    try {
      const h = await s3.send(new HeadObjectCommand({Bucket: b.bucket, Key: b.key}), {abortSignal: ctx.signal})
      state = `state s3://${b.bucket}/${b.key} (${h.ContentLength ?? '?'} bytes, written ${h.LastModified?.toISOString() ?? '?'})`
    } catch (error) {
      const name = awsErrorName(error)
      if (!/NotFound|NoSuchKey|404/.test(name)) return fail(`state s3://${b.bucket}/${b.key} cannot be read (${name})`)
      state = `no state yet at s3://${b.bucket}/${b.key} (the first provision creates it)`
    }
    if (!b.dynamodbTable) return pass(`${state}; no lock table configured`)
    const ddb = await awsClient('dynamodb', env)
    const {GetItemCommand} = await import('@aws-sdk/client-dynamodb')
    let item
    try {
      item = (await ddb.send(new GetItemCommand({TableName: b.dynamodbTable, Key: {LockID: {S: `${b.bucket}/${b.key}`}}, ConsistentRead: true}), {abortSignal: ctx.signal})).Item
    } catch (error) {
      return fail(`lock table ${b.dynamodbTable} cannot be read (${awsErrorName(error)})`)
    }
    if (!item) return state.startsWith('no state') ? warn(`${state}; lock table ${b.dynamodbTable} free`) : pass(`${state}; lock table ${b.dynamodbTable} free`)
    // Terraform writes the holder as JSON in the Info attribute: ID, Operation, Who, Created.
    let info: {ID?: string; Operation?: string; Who?: string; Created?: string} = {}
    try {
      info = JSON.parse(item.Info?.S ?? '{}')
    } catch {
      /* a lock without readable info is still a lock */
    }
    return fail(
      `the state is locked by ${info.Who ?? 'someone'}${info.Created ? ` since ${info.Created}` : ''} (${info.Operation ?? 'an operation'}, lock ID ${info.ID ?? '?'}); if that operation is dead: terraform -chdir=${env.terraform!.dir} force-unlock ${info.ID ?? '<ID>'}`,
    )
  },
}

const images: Check = {
  id: 'images',
  phase: 'pre',
  title: 'Every image tag the Helm values name exists in ECR',
  applies: (env) => Boolean(env.aws && env.helm?.releases.length && env.verify?.images !== false),
  async run(ctx, env) {
    const refs = await imagesOfReleases(env)
    if (refs.length === 0) return warn('no image (repository and tag) found in the Helm values')
    const ecr = await awsClient('ecr', env)
    const {DescribeImagesCommand} = await import('@aws-sdk/client-ecr')
    const problems: string[] = []
    const notEcr: string[] = []
    for (const ref of refs) {
      if (!ref.ecr) {
        notEcr.push(ref.image)
        continue
      }
      try {
        await ecr.send(new DescribeImagesCommand({repositoryName: ref.repository, imageIds: [{imageTag: ref.tag}]}), {abortSignal: ctx.signal})
      } catch (error) {
        const name = awsErrorName(error)
        problems.push(/ImageNotFound/.test(name) ? `${ref.repository}:${ref.tag} is not in ECR (from ${ref.from})` : `${ref.repository}: ${name} (from ${ref.from})`)
      }
    }
    if (problems.length) return fail(problems.join('; '))
    const checked = refs.length - notEcr.length
    return notEcr.length
      ? warn(`${checked} ECR image(s) found; not in ECR, not checked: ${notEcr.join(', ')}`)
      : pass(`${checked} image(s) found in ECR: ${refs.map((r) => `${r.repository}:${r.tag}`).join(', ')}`)
  },
}

const vpc: Check = {
  id: 'vpc',
  phase: 'post',
  title: 'VPC: subnets in every zone, a NAT gateway per zone, routes',
  applies: (env) => Boolean(env.aws && env.verify?.vpc),
  async run(ctx, env) {
    const want = env.verify!.vpc!
    const ec2 = await awsClient('ec2', env)
    const m = await import('@aws-sdk/client-ec2')
    const vpcs = (await ec2.send(new m.DescribeVpcsCommand({Filters: [{Name: 'tag:Name', Values: [want.name]}]}), {abortSignal: ctx.signal})).Vpcs ?? []
    if (vpcs.length !== 1) return fail(vpcs.length ? `${vpcs.length} VPCs are named ${want.name}; expected one` : `no VPC named ${want.name}`)
    const vpcId = vpcs[0]!.VpcId!
    const byVpc = [{Name: 'vpc-id', Values: [vpcId]}]
    const [subnets, nats, tables] = await Promise.all([
      ec2.send(new m.DescribeSubnetsCommand({Filters: byVpc}), {abortSignal: ctx.signal}).then((r) => r.Subnets ?? []),
      ec2.send(new m.DescribeNatGatewaysCommand({Filter: byVpc}), {abortSignal: ctx.signal}).then((r) => r.NatGateways ?? []),
      ec2.send(new m.DescribeRouteTablesCommand({Filters: byVpc}), {abortSignal: ctx.signal}).then((r) => r.RouteTables ?? []),
    ])
    const zoneOf = new Map(subnets.map((s) => [s.SubnetId!, s.AvailabilityZone!]))
    const zones = [...new Set(subnets.map((s) => s.AvailabilityZone!))].sort()
    const problems: string[] = []
    if (zones.length < want.zones) problems.push(`subnets in ${zones.length} zone(s) (${zones.join(', ') || 'none'}), expected ${want.zones}`)
    const liveNats = nats.filter((n) => n.State === 'available')
    const natZones = [...new Set(liveNats.map((n) => zoneOf.get(n.SubnetId!)).filter(Boolean))].sort()
    const missingNat = zones.filter((z) => !natZones.includes(z))
    if (missingNat.length) problems.push(`no available NAT gateway in ${missingNat.join(', ')}`)
    // Each subnet's default route: through the internet gateway (public) or a NAT gateway (private).
    const mainTable = tables.find((t) => t.Associations?.some((a) => a.Main))
    const noDefault: string[] = []
    let publicCount = 0
    for (const s of subnets) {
      const table = tables.find((t) => t.Associations?.some((a) => a.SubnetId === s.SubnetId)) ?? mainTable
      const route = table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.State !== 'blackhole')
      if (route?.GatewayId?.startsWith('igw-')) publicCount++
      else if (!route?.NatGatewayId) noDefault.push(s.SubnetId!)
    }
    if (noDefault.length) problems.push(`subnet(s) without a default route to an internet or NAT gateway: ${noDefault.join(', ')}`)
    return verdict(problems, `${vpcId}: ${subnets.length} subnets in ${zones.join(', ')} (${publicCount} public), NAT gateways in ${natZones.join(', ')}`)
  },
}

const eks: Check = {
  id: 'eks',
  phase: 'post',
  title: 'EKS: cluster, node groups and add-ons ACTIVE',
  applies: (env) => Boolean(env.aws && env.kubernetes?.cluster && env.verify?.eks),
  async run(ctx, env) {
    const want = env.verify!.eks!
    const name = env.kubernetes!.cluster!
    const client = await awsClient('eks', env)
    const m = await import('@aws-sdk/client-eks')
    const c = (await client.send(new m.DescribeClusterCommand({name}), {abortSignal: ctx.signal})).cluster
    const problems: string[] = []
    if (c?.status !== 'ACTIVE') problems.push(`cluster ${name} is ${c?.status ?? 'missing'}`)
    if (c?.version !== want.version) problems.push(`cluster ${name} runs Kubernetes ${c?.version}, expected ${want.version}`)
    const seen: string[] = []
    for (const [group, size] of Object.entries(want.nodeGroups)) {
      try {
        const ng = (await client.send(new m.DescribeNodegroupCommand({clusterName: name, nodegroupName: group}), {abortSignal: ctx.signal})).nodegroup
        const sc = ng?.scalingConfig ?? {}
        if (ng?.status !== 'ACTIVE')
          problems.push(`node group ${group} is ${ng?.status}${ng?.health?.issues?.length ? ` (${ng.health.issues.map((i) => i.message ?? i.code).join('; ')})` : ''}`)
        if (sc.minSize !== size.min || sc.maxSize !== size.max) problems.push(`node group ${group} scales ${sc.minSize}–${sc.maxSize}, expected ${size.min}–${size.max}`)
        seen.push(`${group} ${sc.desiredSize}/${sc.minSize}–${sc.maxSize}`)
      } catch (error) {
        problems.push(`node group ${group}: ${awsErrorName(error)}`)
      }
    }
    for (const addon of want.addons) {
      try {
        const a = (await client.send(new m.DescribeAddonCommand({clusterName: name, addonName: addon}), {abortSignal: ctx.signal})).addon
        if (a?.status !== 'ACTIVE') problems.push(`add-on ${addon} is ${a?.status}`)
      } catch (error) {
        problems.push(`add-on ${addon}: ${awsErrorName(error)}`)
      }
    }
    return verdict(
      problems,
      `${name} ACTIVE on ${c?.version}; node groups ${seen.join(', ') || 'none'}; ${want.addons.length ? `add-ons ${want.addons.join(', ')} ACTIVE` : 'no add-ons expected'}`,
    )
  },
}

const rds: Check = {
  id: 'rds',
  phase: 'post',
  title: 'RDS: available, Multi-AZ, encrypted, backups kept and recent',
  applies: (env) => Boolean(env.aws && env.database && env.verify?.rds),
  async run(ctx, env) {
    const want = env.verify!.rds!
    const id = env.database!.rdsInstance
    const client = await awsClient('rds', env)
    const {DescribeDBInstancesCommand} = await import('@aws-sdk/client-rds')
    const db = (await client.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: id}), {abortSignal: ctx.signal})).DBInstances?.[0]
    if (!db) return fail(`no RDS instance ${id}`)
    const problems: string[] = []
    if (db.DBInstanceStatus !== 'available') problems.push(`${id} is ${db.DBInstanceStatus}`)
    if (want.multiAz && !db.MultiAZ) problems.push(`${id} is not Multi-AZ`)
    if (want.encrypted && !db.StorageEncrypted) problems.push(`${id} storage is not encrypted`)
    if ((db.BackupRetentionPeriod ?? 0) < want.backupRetentionDays)
      problems.push(`${id} keeps backups ${db.BackupRetentionPeriod ?? 0} day(s), expected ${want.backupRetentionDays}`)
    const latest = db.LatestRestorableTime?.getTime()
    const maxAge = parseDuration(want.maxBackupAge)!
    if (!latest) problems.push(`${id} has no automated backup (no latest restorable time)`)
    else if (Date.now() - latest > maxAge) problems.push(`${id}'s newest automated backup is ${formatDuration(Date.now() - latest)} old (at most ${want.maxBackupAge})`)
    return verdict(
      problems,
      `${id} ${db.Engine} ${db.EngineVersion} available, Multi-AZ ${db.MultiAZ}, encrypted ${db.StorageEncrypted}, backups kept ${db.BackupRetentionPeriod} days, restorable to ${formatDuration(Date.now() - (latest ?? 0))} ago`,
    )
  },
}

const redis: Check = {
  id: 'redis',
  phase: 'post',
  title: 'ElastiCache: replication group available with failover',
  applies: (env) => Boolean(env.aws && env.verify?.redis),
  async run(ctx, env) {
    const id = env.verify!.redis!.replicationGroup
    const client = await awsClient('elasticache', env)
    const {DescribeReplicationGroupsCommand} = await import('@aws-sdk/client-elasticache')
    const g = (await client.send(new DescribeReplicationGroupsCommand({ReplicationGroupId: id}), {abortSignal: ctx.signal})).ReplicationGroups?.[0]
    if (!g) return fail(`no replication group ${id}`)
    const problems: string[] = []
    if (g.Status !== 'available') problems.push(`${id} is ${g.Status}`)
    // AWS refuses automatic failover on a single node: enabled means a replica to fail over to.
    if (g.AutomaticFailover !== 'enabled') problems.push(`${id} automatic failover is ${g.AutomaticFailover}`)
    if (g.MultiAZ && g.MultiAZ !== 'enabled') problems.push(`${id} is not Multi-AZ`)
    return verdict(
      problems,
      `${id} available, automatic failover ${g.AutomaticFailover}, Multi-AZ ${g.MultiAZ}, encryption at rest ${g.AtRestEncryptionEnabled}, in transit ${g.TransitEncryptionEnabled}`,
    )
  },
}

const buckets: Check = {
  id: 's3',
  phase: 'post',
  title: 'S3: buckets versioned, encrypted, public access blocked',
  applies: (env) => Boolean(env.aws && env.verify?.buckets.length),
  async run(ctx, env) {
    const s3 = await awsClient('s3', env)
    const m = await import('@aws-sdk/client-s3')
    const problems: string[] = []
    for (const bucket of env.verify!.buckets) {
      const o = {abortSignal: ctx.signal}
      const [versioning, encryption, pab] = await Promise.all([
        s3.send(new m.GetBucketVersioningCommand({Bucket: bucket}), o).catch((e) => e as Error),
        s3.send(new m.GetBucketEncryptionCommand({Bucket: bucket}), o).catch((e) => e as Error),
        s3.send(new m.GetPublicAccessBlockCommand({Bucket: bucket}), o).catch((e) => e as Error),
      ])
      if (versioning instanceof Error) {
        problems.push(`${bucket}: ${awsErrorName(versioning)}`)
        continue
      }
      if (versioning.Status !== 'Enabled') problems.push(`${bucket} is not versioned (${versioning.Status ?? 'never enabled'})`)
      if (encryption instanceof Error || !encryption.ServerSideEncryptionConfiguration?.Rules?.length) problems.push(`${bucket} has no default encryption`)
      const block = pab instanceof Error ? undefined : pab.PublicAccessBlockConfiguration
      const open = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'].filter((k) => !block?.[k as keyof typeof block])
      if (open.length) problems.push(`${bucket} public access not fully blocked (${open.join(', ')} off)`)
    }
    return verdict(problems, `${env.verify!.buckets.join(', ')}: versioned, encrypted, public access blocked`)
  },
}

const certificates: Check = {
  id: 'acm',
  phase: 'post',
  title: 'ACM: certificates issued and not expiring soon',
  applies: (env) => Boolean(env.aws && env.verify?.certificates.length),
  async run(ctx, env) {
    const acm = await awsClient('acm', env)
    const m = await import('@aws-sdk/client-acm')
    const list =
      (await acm.send(new m.ListCertificatesCommand({Includes: {keyTypes: ['RSA_2048', 'EC_prime256v1', 'RSA_4096', 'EC_secp384r1']}}), {abortSignal: ctx.signal}))
        .CertificateSummaryList ?? []
    const problems: string[] = []
    const seen: string[] = []
    for (const want of env.verify!.certificates) {
      const domain = want.domain.replace(/\.$/, '')
      const candidates = list.filter((c) => c.DomainName === domain)
      if (candidates.length === 0) {
        problems.push(`no certificate for ${domain}`)
        continue
      }
      // The best of them: an issued one that lasts longest.
      const described = await Promise.all(
        candidates.map((c) => acm.send(new m.DescribeCertificateCommand({CertificateArn: c.CertificateArn}), {abortSignal: ctx.signal}).then((r) => r.Certificate!)),
      )
      const best = described.sort((a, b) => Number(b.Status === 'ISSUED') - Number(a.Status === 'ISSUED') || (b.NotAfter?.getTime() ?? 0) - (a.NotAfter?.getTime() ?? 0))[0]!
      const daysLeft = best.NotAfter ? Math.floor((best.NotAfter.getTime() - Date.now()) / DAY) : -1
      if (best.Status !== 'ISSUED') problems.push(`certificate for ${domain} is ${best.Status}`)
      else if (daysLeft < want.minValidDays)
        problems.push(`certificate for ${domain} expires in ${daysLeft} day(s) (${best.NotAfter?.toISOString().slice(0, 10)}), under ${want.minValidDays}`)
      seen.push(`${domain} valid ${daysLeft} more days`)
    }
    return verdict(problems, seen.join(', '))
  },
}

const targets: Check = {
  id: 'load-balancer',
  phase: 'post',
  title: 'Load balancer targets healthy',
  applies: (env) => Boolean(env.aws && env.verify?.targetGroups.length),
  async run(ctx, env) {
    const elb = await awsClient('elbv2', env)
    const m = await import('@aws-sdk/client-elastic-load-balancing-v2')
    const names = env.verify!.targetGroups
    let groups
    try {
      groups = (await elb.send(new m.DescribeTargetGroupsCommand({Names: names}), {abortSignal: ctx.signal})).TargetGroups ?? []
    } catch (error) {
      return fail(`target groups ${names.join(', ')}: ${awsErrorName(error)}`)
    }
    const problems: string[] = []
    const seen: string[] = []
    for (const g of groups) {
      const health = (await elb.send(new m.DescribeTargetHealthCommand({TargetGroupArn: g.TargetGroupArn}), {abortSignal: ctx.signal})).TargetHealthDescriptions ?? []
      const bad = health.filter((h) => h.TargetHealth?.State !== 'healthy')
      if (health.length === 0) problems.push(`${g.TargetGroupName} has no targets`)
      else if (bad.length)
        problems.push(
          `${g.TargetGroupName}: ${bad.map((h) => `${h.Target?.Id}:${h.Target?.Port} ${h.TargetHealth?.State}${h.TargetHealth?.Reason ? ` (${h.TargetHealth.Reason})` : ''}`).join(', ')}`,
        )
      seen.push(`${g.TargetGroupName} ${health.length - bad.length}/${health.length} healthy`)
    }
    return verdict(problems, seen.join(', '))
  },
}

const backups: Check = {
  id: 'backup',
  phase: 'post',
  title: 'AWS Backup: plan present, a recent successful job',
  applies: (env) => Boolean(env.aws && env.backup),
  async run(ctx, env) {
    const b = env.backup!
    const client = await awsClient('backup', env)
    const m = await import('@aws-sdk/client-backup')
    const problems: string[] = []
    if (b.plan) {
      const plans = (await client.send(new m.ListBackupPlansCommand({}), {abortSignal: ctx.signal})).BackupPlansList ?? []
      if (!plans.some((p) => p.BackupPlanName === b.plan)) problems.push(`no backup plan ${b.plan}`)
    }
    const jobs = (await client.send(new m.ListBackupJobsCommand({ByBackupVaultName: b.vault, ByState: 'COMPLETED'}), {abortSignal: ctx.signal})).BackupJobs ?? []
    const newest = Math.max(0, ...jobs.map((j) => j.CompletionDate?.getTime() ?? 0))
    const maxAge = parseDuration(env.verify?.backupMaxAge ?? '26h')!
    if (!newest) {
      // A vault younger than the allowed age has simply not had its first scheduled backup yet.
      const vault = await client.send(new m.DescribeBackupVaultCommand({BackupVaultName: b.vault}), {abortSignal: ctx.signal}).catch(() => undefined)
      const age = vault?.CreationDate ? Date.now() - vault.CreationDate.getTime() : undefined
      if (!vault) problems.push(`no backup vault ${b.vault}`)
      else if (age !== undefined && age < maxAge && !problems.length)
        return warn(`${b.plan ? `plan ${b.plan}; ` : ''}no backup job yet: vault ${b.vault} was made ${formatDuration(age)} ago`)
      else problems.push(`no completed backup job in vault ${b.vault}`)
    } else if (Date.now() - newest > maxAge)
      problems.push(`the newest completed backup job in ${b.vault} finished ${formatDuration(Date.now() - newest)} ago (at most ${env.verify?.backupMaxAge ?? '26h'})`)
    return verdict(problems, `${b.plan ? `plan ${b.plan}; ` : ''}newest completed job in ${b.vault} ${formatDuration(Date.now() - newest)} ago`)
  },
}

export const AWS_CHECKS: Check[] = [identity, region, terraformState, images, vpc, eks, rds, redis, buckets, certificates, targets, backups]
