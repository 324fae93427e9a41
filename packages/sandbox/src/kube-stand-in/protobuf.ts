/**
 * Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
 *
 * client-go's typed clients send protobuf and no flag turns it off: helm writes its release
 * Secrets this way and `kubectl create namespace` posts a protobuf Namespace; deletes may
 * carry a protobuf DeleteOptions. A body is the 4-byte magic `k8s\0` followed by a
 * `runtime.Unknown` message: {1: TypeMeta{1: apiVersion, 2: kind}, 2: raw object bytes}.
 * The raw object has no TypeMeta of its own; its fields follow the generated.proto files of
 * k8s.io/api (field numbers below). Only the kinds clients actually send are described;
 * answers always go back as JSON, which the clients accept.
 */
import {ApiError} from './resources.js'
import {timestamp} from './util.js'

type Scalar = 'string' | 'bytes' | 'bool' | 'int' | 'time' | 'microtime' | 'intOrString' | 'quantity'
interface Field {
  name: string
  type: Scalar | Schema | {map: Scalar | Schema}
  repeated?: boolean
  /** Plain (non-pointer) Go ints are always on the wire; omitempty drops their zero in JSON. */
  omitZero?: boolean
}
type Schema = {[fieldNumber: number]: Field}

const ownerReference: Schema = {
  1: {name: 'kind', type: 'string'},
  3: {name: 'name', type: 'string'},
  4: {name: 'uid', type: 'string'},
  5: {name: 'apiVersion', type: 'string'},
  6: {name: 'controller', type: 'bool'},
  7: {name: 'blockOwnerDeletion', type: 'bool'},
}

// managedFields (17) is left out on purpose: the stand-in does not track field managers.
const objectMeta: Schema = {
  1: {name: 'name', type: 'string'},
  2: {name: 'generateName', type: 'string'},
  3: {name: 'namespace', type: 'string'},
  5: {name: 'uid', type: 'string'},
  6: {name: 'resourceVersion', type: 'string'},
  7: {name: 'generation', type: 'int', omitZero: true},
  8: {name: 'creationTimestamp', type: 'time'},
  9: {name: 'deletionTimestamp', type: 'time'},
  10: {name: 'deletionGracePeriodSeconds', type: 'int'},
  11: {name: 'labels', type: {map: 'string'}},
  12: {name: 'annotations', type: {map: 'string'}},
  13: {name: 'ownerReferences', type: ownerReference, repeated: true},
  14: {name: 'finalizers', type: 'string', repeated: true},
}

const labelSelector: Schema = {
  1: {name: 'matchLabels', type: {map: 'string'}},
  2: {
    name: 'matchExpressions',
    type: {1: {name: 'key', type: 'string'}, 2: {name: 'operator', type: 'string'}, 3: {name: 'values', type: 'string', repeated: true}},
    repeated: true,
  },
}

/**
 * The part of PodSpec and Container that imperative commands (`kubectl create deployment
 * NAME --image=... --port=... --replicas=...`) send. Other fields of a protobuf Deployment
 * are dropped; manifests (`kubectl apply -f`, helm) always arrive as JSON.
 */
const container: Schema = {
  1: {name: 'name', type: 'string'},
  2: {name: 'image', type: 'string'},
  3: {name: 'command', type: 'string', repeated: true},
  4: {name: 'args', type: 'string', repeated: true},
  5: {name: 'workingDir', type: 'string'},
  6: {name: 'ports', type: {1: {name: 'name', type: 'string'}, 3: {name: 'containerPort', type: 'int'}, 4: {name: 'protocol', type: 'string'}}, repeated: true},
  7: {name: 'env', type: {1: {name: 'name', type: 'string'}, 2: {name: 'value', type: 'string'}}, repeated: true},
  8: {name: 'resources', type: {1: {name: 'limits', type: {map: 'quantity'}}, 2: {name: 'requests', type: {map: 'quantity'}}}},
  14: {name: 'imagePullPolicy', type: 'string'},
}
const podTemplate: Schema = {
  1: {name: 'metadata', type: objectMeta},
  2: {
    name: 'spec',
    type: {
      2: {name: 'containers', type: container, repeated: true},
      3: {name: 'restartPolicy', type: 'string'},
      4: {name: 'terminationGracePeriodSeconds', type: 'int'},
      7: {name: 'nodeSelector', type: {map: 'string'}},
      8: {name: 'serviceAccountName', type: 'string'},
      20: {name: 'initContainers', type: container, repeated: true},
    },
  },
}

const objectReference: Schema = {
  1: {name: 'kind', type: 'string'},
  2: {name: 'namespace', type: 'string'},
  3: {name: 'name', type: 'string'},
  4: {name: 'uid', type: 'string'},
  5: {name: 'apiVersion', type: 'string'},
  6: {name: 'resourceVersion', type: 'string'},
  7: {name: 'fieldPath', type: 'string'},
}

/** rbac.authorization.k8s.io/v1 (`kubectl create role|clusterrole|rolebinding|clusterrolebinding`). */
const policyRule: Schema = {
  1: {name: 'verbs', type: 'string', repeated: true},
  2: {name: 'apiGroups', type: 'string', repeated: true},
  3: {name: 'resources', type: 'string', repeated: true},
  4: {name: 'resourceNames', type: 'string', repeated: true},
  5: {name: 'nonResourceURLs', type: 'string', repeated: true},
}
const roleBinding: Schema = {
  1: {name: 'metadata', type: objectMeta},
  2: {
    name: 'subjects',
    type: {1: {name: 'kind', type: 'string'}, 2: {name: 'apiGroup', type: 'string'}, 3: {name: 'name', type: 'string'}, 4: {name: 'namespace', type: 'string'}},
    repeated: true,
  },
  3: {name: 'roleRef', type: {1: {name: 'apiGroup', type: 'string'}, 2: {name: 'kind', type: 'string'}, 3: {name: 'name', type: 'string'}}},
}

const SCHEMAS: Record<string, Schema> = {
  Deployment: {
    1: {name: 'metadata', type: objectMeta},
    2: {
      name: 'spec',
      type: {
        1: {name: 'replicas', type: 'int'},
        2: {name: 'selector', type: labelSelector},
        3: {name: 'template', type: podTemplate},
        4: {name: 'strategy', type: {1: {name: 'type', type: 'string'}}},
        5: {name: 'minReadySeconds', type: 'int', omitZero: true},
        6: {name: 'revisionHistoryLimit', type: 'int'},
        9: {name: 'progressDeadlineSeconds', type: 'int'},
      },
    },
  },
  Job: {
    1: {name: 'metadata', type: objectMeta},
    2: {name: 'spec', type: {6: {name: 'template', type: podTemplate}, 7: {name: 'backoffLimit', type: 'int'}}},
  },
  Service: {
    1: {name: 'metadata', type: objectMeta},
    2: {
      name: 'spec',
      type: {
        1: {
          name: 'ports',
          type: {
            1: {name: 'name', type: 'string'},
            2: {name: 'protocol', type: 'string'},
            3: {name: 'port', type: 'int'},
            4: {name: 'targetPort', type: 'intOrString'},
            5: {name: 'nodePort', type: 'int', omitZero: true},
          },
          repeated: true,
        },
        2: {name: 'selector', type: {map: 'string'}},
        3: {name: 'clusterIP', type: 'string'},
        4: {name: 'type', type: 'string'},
        7: {name: 'externalName', type: 'string'},
      },
    },
  },
  Secret: {
    1: {name: 'metadata', type: objectMeta},
    2: {name: 'data', type: {map: 'bytes'}},
    3: {name: 'type', type: 'string'},
    4: {name: 'stringData', type: {map: 'string'}},
    5: {name: 'immutable', type: 'bool'},
  },
  ConfigMap: {
    1: {name: 'metadata', type: objectMeta},
    2: {name: 'data', type: {map: 'string'}},
    3: {name: 'binaryData', type: {map: 'bytes'}},
    4: {name: 'immutable', type: 'bool'},
  },
  Namespace: {
    1: {name: 'metadata', type: objectMeta},
    2: {name: 'spec', type: {1: {name: 'finalizers', type: 'string', repeated: true}}},
    3: {name: 'status', type: {1: {name: 'phase', type: 'string'}}},
  },
  Lease: {
    1: {name: 'metadata', type: objectMeta},
    2: {
      name: 'spec',
      type: {
        1: {name: 'holderIdentity', type: 'string'},
        2: {name: 'leaseDurationSeconds', type: 'int'},
        3: {name: 'acquireTime', type: 'microtime'},
        4: {name: 'renewTime', type: 'microtime'},
        5: {name: 'leaseTransitions', type: 'int'},
        6: {name: 'strategy', type: 'string'},
        7: {name: 'preferredHolder', type: 'string'},
      },
    },
  },
  ServiceAccount: {
    1: {name: 'metadata', type: objectMeta},
    2: {name: 'secrets', type: objectReference, repeated: true},
    3: {name: 'imagePullSecrets', type: {1: {name: 'name', type: 'string'}}, repeated: true},
    4: {name: 'automountServiceAccountToken', type: 'bool'},
  },
  ResourceQuota: {
    1: {name: 'metadata', type: objectMeta},
    2: {name: 'spec', type: {1: {name: 'hard', type: {map: 'quantity'}}, 2: {name: 'scopes', type: 'string', repeated: true}}},
  },
  Role: {1: {name: 'metadata', type: objectMeta}, 2: {name: 'rules', type: policyRule, repeated: true}},
  ClusterRole: {1: {name: 'metadata', type: objectMeta}, 2: {name: 'rules', type: policyRule, repeated: true}},
  RoleBinding: roleBinding,
  ClusterRoleBinding: roleBinding,
  SelfSubjectAccessReview: {
    1: {name: 'metadata', type: objectMeta},
    2: {
      name: 'spec',
      type: {
        1: {
          name: 'resourceAttributes',
          type: {
            1: {name: 'namespace', type: 'string'},
            2: {name: 'verb', type: 'string'},
            3: {name: 'group', type: 'string'},
            4: {name: 'version', type: 'string'},
            5: {name: 'resource', type: 'string'},
            6: {name: 'subresource', type: 'string'},
            7: {name: 'name', type: 'string'},
          },
        },
        2: {name: 'nonResourceAttributes', type: {1: {name: 'path', type: 'string'}, 2: {name: 'verb', type: 'string'}}},
      },
    },
  },
  DeleteOptions: {
    1: {name: 'gracePeriodSeconds', type: 'int'},
    2: {name: 'preconditions', type: {1: {name: 'uid', type: 'string'}, 2: {name: 'resourceVersion', type: 'string'}}},
    3: {name: 'orphanDependents', type: 'bool'},
    4: {name: 'propagationPolicy', type: 'string'},
    5: {name: 'dryRun', type: 'string', repeated: true},
  },
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]) // "k8s\0"

export const PROTOBUF = 'application/vnd.kubernetes.protobuf'

/** Decode a protobuf request body into the JSON form of the object. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw ApiError.badRequest('protobuf body without the k8s envelope')
  const unknown = decodeMessage(
    body.subarray(4),
    {
      1: {name: 'typeMeta', type: {1: {name: 'apiVersion', type: 'string'}, 2: {name: 'kind', type: 'string'}}},
      2: {name: 'raw', type: 'bytes'},
    },
    true,
  )
  const typeMeta = (unknown.typeMeta ?? {}) as {apiVersion?: string; kind?: string}
  const schema = SCHEMAS[typeMeta.kind ?? '']
  if (!schema) {
    throw new ApiError(415, 'UnsupportedMediaType', `the stand-in cannot decode protobuf ${typeMeta.kind ?? 'objects'}; send JSON`)
  }
  const raw = (unknown.raw as Buffer | undefined) ?? Buffer.alloc(0)
  return {apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...decodeMessage(raw, schema)}
}

/** Decode one message. Unknown field numbers are skipped; empty strings and zero times are dropped (Go's omitempty). */
function decodeMessage(buf: Buffer, schema: Schema, rawBytes = false): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const r = new Reader(buf)
  while (!r.done()) {
    const tag = r.varint()
    const fieldNumber = Math.floor(tag / 8)
    const wire = tag & 7
    const field = schema[fieldNumber]
    if (!field) {
      r.skip(wire)
      continue
    }
    let value: unknown
    const t = field.type
    if (t === 'int') value = toInt32or64(r.varint())
    else if (t === 'bool') value = r.varint() !== 0
    else {
      const bytes = r.bytes()
      if (t === 'string') value = bytes.toString('utf8')
      else if (t === 'bytes') value = rawBytes ? bytes : bytes.toString('base64')
      else if (t === 'time' || t === 'microtime') value = decodeTime(bytes, t === 'microtime')
      else if (t === 'quantity') value = decodeMessage(bytes, {1: {name: 's', type: 'string'}}).s
      else if (t === 'intOrString') {
        const v = decodeMessage(bytes, {1: {name: 'type', type: 'int'}, 2: {name: 'intVal', type: 'int'}, 3: {name: 'strVal', type: 'string'}})
        value = v.type === 1 ? v.strVal : (v.intVal ?? 0)
      } else if (typeof t === 'object' && 'map' in t) {
        const entry = decodeMessage(bytes, {1: {name: 'k', type: 'string'}, 2: {name: 'v', type: t.map}})
        const map = (out[field.name] ??= {}) as Record<string, unknown>
        map[String(entry.k ?? '')] = entry.v ?? ''
        continue
      } else value = decodeMessage(bytes, t as Schema)
    }
    // An empty string in a list is a value (RBAC's apiGroups: [""] is the core group); alone it is omitempty.
    if ((value === '' && !field.repeated) || value === undefined || (field.omitZero && value === 0)) continue
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(value)
    else out[field.name] = value
  }
  return out
}

/** int32 fields come as 64-bit two's complement when negative; none of ours are, but keep them sane. */
function toInt32or64(n: number): number {
  return n >= 2 ** 63 ? n - 2 ** 64 : n
}

function decodeTime(bytes: Buffer, micro: boolean): string | undefined {
  const t = decodeMessage(bytes, {1: {name: 'seconds', type: 'int'}, 2: {name: 'nanos', type: 'int'}})
  const seconds = Number(t.seconds ?? 0)
  if (seconds === 0) return undefined
  const text = timestamp(new Date(seconds * 1000))
  return micro ? text.replace('Z', `.${String(Math.floor(Number(t.nanos ?? 0) / 1000)).padStart(6, '0')}Z`) : text
}

class Reader {
  private pos = 0
  constructor(private readonly buf: Buffer) {}

  done(): boolean {
    return this.pos >= this.buf.length
  }

  /** A varint as a Number (exact up to 2^53, plenty for the values clients send). Negative int64 comes out huge; none are sent. */
  varint(): number {
    let result = 0
    let factor = 1
    for (;;) {
      if (this.pos >= this.buf.length) throw ApiError.badRequest('truncated protobuf varint')
      const b = this.buf[this.pos++]!
      result += (b & 0x7f) * factor
      if ((b & 0x80) === 0) return result
      factor *= 128
    }
  }

  bytes(): Buffer {
    const len = this.varint()
    if (this.pos + len > this.buf.length) throw ApiError.badRequest('truncated protobuf field')
    const out = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }

  skip(wire: number): void {
    if (wire === 0) this.varint()
    else if (wire === 1) this.pos += 8
    else if (wire === 2) this.bytes()
    else if (wire === 5) this.pos += 4
    else throw ApiError.badRequest(`unsupported protobuf wire type ${wire}`)
  }
}
