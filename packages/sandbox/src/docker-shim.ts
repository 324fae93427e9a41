/**
 * A stand-in for the docker CLI inside the sandbox, where no Docker engine runs. It understands
 * what clipper-ops drives — `docker compose [-f FILE] [-p NAME] up -d | ps | stop | down |
 * start | restart`, `docker version` — and changes the sandbox as the real tool changes the
 * legacy host: `up` brings the legacy stack up, `stop`/`down` take it down. It reads
 * CLIPPER_OPS_SANDBOX_CONTROL (set only in the sandbox environment's tools.env).
 */
const control = process.env.CLIPPER_OPS_SANDBOX_CONTROL

function fail(msg: string, code = 1): never {
  process.stderr.write(`${msg}\n`)
  process.exit(code)
}

async function call(path: string, body?: unknown): Promise<any> {
  if (!control) fail('docker (clipper-ops sandbox stand-in): CLIPPER_OPS_SANDBOX_CONTROL is not set; is the sandbox running? (clipper-ops sandbox up)')
  let r: Response
  try {
    r = await fetch(`${control}${path}`, body === undefined ? {} : {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  } catch {
    fail(`Cannot connect to the Docker daemon at ${process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'}. Is the docker daemon running? (the clipper-ops sandbox is not)`)
  }
  if (!r.ok) fail(`docker (sandbox stand-in): control API answered ${r.status}: ${await r.text()}`)
  return r.json()
}

async function compose(args: string[]): Promise<void> {
  let file = 'docker-compose.yml'
  let project = 'clipper'
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '-f' || a === '--file') file = args[++i] ?? file
    else if (a === '-p' || a === '--project-name') project = args[++i] ?? project
    else if (a.startsWith('--file=')) file = a.slice(7)
    else if (a.startsWith('--project-name=')) project = a.slice(15)
    else rest.push(a)
  }
  const [sub, ...opts] = rest
  const services = ['backend', 'frontend', 'postgres', 'redis']
  const say = (verb: string) => {
    for (const s of services) process.stderr.write(` Container ${project}-${s}-1  ${verb}\n`)
  }
  switch (sub) {
    case 'up':
    case 'start':
    case 'restart': {
      if (sub === 'up' && !opts.includes('-d') && !opts.includes('--detach'))
        fail('docker compose up without -d would attach to the containers; the sandbox stand-in supports up -d only', 2)
      await call('/stacks/legacy', {up: true})
      say(sub === 'up' ? 'Started' : sub === 'start' ? 'Started' : 'Restarted')
      return
    }
    case 'stop':
    case 'down': {
      await call('/stacks/legacy', {up: false})
      say(sub === 'stop' ? 'Stopped' : 'Removed')
      return
    }
    case 'ps': {
      const status = await call('/status')
      const legacy = status.stacks.legacy as {up: boolean; errorRate: number}
      const json = opts.includes('--format') && opts[opts.indexOf('--format') + 1] === 'json'
      const rows = services.map((s) => ({
        Name: `${project}-${s}-1`,
        Project: project,
        Service: s,
        State: legacy.up ? 'running' : 'exited',
        Status: legacy.up ? 'Up 3 hours' : 'Exited (0) 5 seconds ago',
        Health: legacy.up ? (legacy.errorRate > 0.5 && s === 'backend' ? 'unhealthy' : 'healthy') : '',
        ExitCode: 0,
      }))
      if (json) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`)
      else {
        process.stdout.write('NAME                 SERVICE    STATUS\n')
        for (const r of rows) process.stdout.write(`${r.Name.padEnd(20)} ${r.Service.padEnd(10)} ${r.Status}\n`)
      }
      return
    }
    case 'config':
      process.stdout.write(`# ${file}\n`)
      return
    default:
      fail(`docker compose ${sub ?? ''}: not supported by the clipper-ops sandbox stand-in (supported: up -d, ps, stop, down, start, restart)`, 2)
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  // Global options before the command: -H/--host, --context, --log-level
  while (args[0]?.startsWith('-')) {
    const a = args.shift()!
    if (a === '-H' || a === '--host' || a === '--context' || a === '--log-level') args.shift()
  }
  const [cmd, ...rest] = args
  if (cmd === 'compose') return compose(rest)
  if (cmd === 'version' || cmd === '--version') {
    process.stdout.write('Docker version 28.2.2 (clipper-ops sandbox stand-in; compose only)\n')
    return
  }
  fail(`docker ${cmd ?? ''}: not supported by the clipper-ops sandbox stand-in (it stands in for "docker compose" only)`, 2)
}

void main()
