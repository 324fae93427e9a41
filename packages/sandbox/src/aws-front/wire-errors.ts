/**
 * AWS error responses in each wire protocol's own shape, so SDK clients and the AWS CLI parse
 * them into the same error names, faults and retry decisions they would get from AWS.
 */
import {randomUUID} from 'node:crypto'
import type {AwsProtocol, OperationInfo} from './operation.js'

export interface HttpAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

export interface AwsErrorSpec {
  status: number
  /** The error code, e.g. Throttling, InvalidChangeBatch, ResourceNotFoundException. */
  code: string
  message: string
  /** Sender (client's fault) or Receiver (server's). */
  type?: 'Sender' | 'Receiver'
}

const XML_NAMESPACES: Record<string, string> = {
  route53: 'https://route53.amazonaws.com/doc/2013-04-01/',
  rds: 'http://rds.amazonaws.com/doc/2014-10-31/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  monitoring: 'http://monitoring.amazonaws.com/doc/2010-08-01/',
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

export function newRequestId(): string {
  return randomUUID()
}

/** An error in the protocol of the call it answers. */
export function awsError(info: Pick<OperationInfo, 'service' | 'protocol'>, spec: AwsErrorSpec, requestHeaders: Record<string, string | string[] | undefined> = {}): HttpAnswer {
  return renderError(info.protocol, info.service, spec, requestHeaders)
}

export function renderError(protocol: AwsProtocol, service: string, spec: AwsErrorSpec, requestHeaders: Record<string, string | string[] | undefined> = {}): HttpAnswer {
  const requestId = newRequestId()
  const type = spec.type ?? (spec.status >= 500 ? 'Receiver' : 'Sender')
  const code = xmlEscape(spec.code)
  const message = xmlEscape(spec.message)
  switch (protocol) {
    case 'rest-xml':
    case 'query': {
      const ns = XML_NAMESPACES[service]
      const body =
        `<?xml version="1.0"?>\n<ErrorResponse${ns ? ` xmlns="${ns}"` : ''}><Error><Type>${type}</Type><Code>${code}</Code>` +
        `<Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
      return {status: spec.status, headers: {'content-type': 'text/xml', 'x-amzn-requestid': requestId}, body}
    }
    case 'ec2': {
      const body =
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors>` +
        `<RequestID>${requestId}</RequestID></Response>`
      return {status: spec.status, headers: {'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId}, body}
    }
    case 'json':
    case 'rest-json': {
      const headers: Record<string, string> = {
        // Answer in the JSON version the client spoke (CloudWatch is 1.0, most others 1.1).
        'content-type': protocol === 'json' ? jsonContentType(requestHeaders['content-type']) : 'application/json',
        'x-amzn-requestid': requestId,
        'x-amzn-errortype': spec.code,
      }
      // JSON services that replaced a query API (CloudWatch) report the old code in this header
      // when the client asks for query compatibility.
      const queryMode = requestHeaders['x-amzn-query-mode']
      if (queryMode === 'true' || service === 'monitoring') headers['x-amzn-query-error'] = `${queryCompatCode(spec.code)};${type}`
      const body = JSON.stringify(protocol === 'json' ? {__type: spec.code, message: spec.message} : {Code: spec.code, Message: spec.message, message: spec.message})
      return {status: spec.status, headers, body}
    }
  }
}

function jsonContentType(requested: string | string[] | undefined): string {
  const v = Array.isArray(requested) ? requested[0] : requested
  return v && /^application\/x-amz-json-1\.[01]/.test(v) ? v : 'application/x-amz-json-1.1'
}

function queryCompatCode(code: string): string {
  return code === 'ThrottlingException' ? 'Throttling' : code
}

/** The code AWS uses for throttling in each protocol and service. */
export function throttlingError(info: Pick<OperationInfo, 'service' | 'protocol'>): AwsErrorSpec {
  if (info.protocol === 'ec2') return {status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.'}
  if (info.protocol === 'rest-xml' || info.protocol === 'query') return {status: 400, code: 'Throttling', message: 'Rate exceeded'}
  return {status: 400, code: 'ThrottlingException', message: 'Rate exceeded'}
}

export function internalError(info: Pick<OperationInfo, 'service' | 'protocol'>): AwsErrorSpec {
  const code = info.protocol === 'ec2' || info.protocol === 'rest-xml' ? 'InternalError' : 'InternalFailure'
  return {status: 500, code, message: 'We encountered an internal error. Please try again.', type: 'Receiver'}
}

export function serviceUnavailableError(info: Pick<OperationInfo, 'service' | 'protocol'>): AwsErrorSpec {
  const code = info.protocol === 'ec2' ? 'Unavailable' : 'ServiceUnavailable'
  return {status: 503, code, message: 'Service is unavailable. Please try again later.', type: 'Receiver'}
}
