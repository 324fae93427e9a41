/**
 * Snapshots that AWS Backup makes of an RDS instance are of type `awsbackup`, and AWS lists them
 * only when asked for that type: a plain DescribeDBSnapshots (or SnapshotType=manual) shows none
 * of them. moto keeps the recovery points' snapshots as manual ones and answers nothing for
 * SnapshotType=awsbackup; the front asks moto for every type and sorts the answer as AWS would.
 */

/** Applies `fn` to each `<tag>…</tag>` block of an answer (the blocks hold no nested tag of the same name). */
export function eachBlock(xml: string, tag: string, fn: (block: string) => string): string {
  return xml.replace(new RegExp(`<${tag}>[\\s\\S]*?</${tag}>`, 'g'), fn)
}

export function tagValue(block: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(block)?.[1]
}

/**
 * The request to send moto instead, and how to correct its answer, given the identifiers of the
 * snapshots behind AWS Backup's recovery points (with each point's creation date).
 */
export function snapshotTypeRequest(body: Buffer, awsBackupSnapshots: Map<string, Date>): {body: Buffer; rewrite: (xml: string) => string} {
  const form = new URLSearchParams(body.toString('utf8'))
  const type = form.get('SnapshotType')
  // One backup seen from RDS and from AWS Backup: the snapshot is dated as its recovery point.
  const asAwsBackup = (block: string) => {
    const at = awsBackupSnapshots.get(tagValue(block, 'DBSnapshotIdentifier') ?? '')?.toISOString()
    const typed = block.replace(/<SnapshotType>[^<]*<\/SnapshotType>/, '<SnapshotType>awsbackup</SnapshotType>')
    return at ? typed.replace(/<SnapshotCreateTime>[^<]*<\/SnapshotCreateTime>/, `<SnapshotCreateTime>${at}</SnapshotCreateTime>`) : typed
  }
  const isBackups = (block: string) => awsBackupSnapshots.has(tagValue(block, 'DBSnapshotIdentifier') ?? '')
  if (type === 'awsbackup') {
    form.delete('SnapshotType')
    return {body: Buffer.from(form.toString()), rewrite: (xml) => eachBlock(xml, 'DBSnapshot', (b) => (isBackups(b) ? asAwsBackup(b) : ''))}
  }
  // Asked for by name, a snapshot is found whatever its type.
  if (form.get('DBSnapshotIdentifier')) return {body, rewrite: (xml) => eachBlock(xml, 'DBSnapshot', (b) => (isBackups(b) ? asAwsBackup(b) : b))}
  return {body, rewrite: (xml) => eachBlock(xml, 'DBSnapshot', (b) => (isBackups(b) ? '' : b))}
}
