import {describe, expect, test} from 'vitest'
import {baseContexts} from '../../src/lib/engine/draft.js'
import {Redactor} from '../../src/lib/util/redact.js'
import {evaluateCondition, evaluateTemplate, ExpressionError, referencedPaths, resolveDeep, UNKNOWN, UnknownValueError} from '../../src/lib/runbook/expressions.js'

const ctx = {params: {steps: [10, 50, 100], name: 'clpr', on: true, n: 3}, env: {slos: {rollbackBudget: '30m'}}, item: 50, steps: {a: {outputs: {weight: 7}}}}

describe('expressions', () => {
  test('a whole-string expression keeps its type; embedded ones interpolate', () => {
    expect(evaluateTemplate('${{ params.steps }}', ctx)).toEqual([10, 50, 100])
    expect(evaluateTemplate('${{ 100 - item }}', ctx)).toBe(50)
    expect(evaluateTemplate('shift ${{ item }}% of ${{ params.name }}', ctx)).toBe('shift 50% of clpr')
    expect(evaluateTemplate('${{ env.slos.rollbackBudget }}', ctx)).toBe('30m')
    expect(evaluateTemplate("${{ params['name'] }}", ctx)).toBe('clpr')
    expect(evaluateTemplate('${{ steps.a.outputs.weight * 2 }}', ctx)).toBe(14)
  })

  test('hostile names read nothing of a prototype: no __proto__, constructor or toString as functions or members', () => {
    for (const fn of ['__proto__()', 'toString()', 'constructor()', 'hasOwnProperty()']) {
      expect(() => evaluateTemplate(`\${{ ${fn} }}`, ctx), fn).toThrow(/unknown function/)
    }
    expect(() => evaluateTemplate('${{ constructor }}', ctx)).toThrow(/unknown name "constructor"/)
    expect(evaluateTemplate('${{ params.__proto__ }}', ctx)).toBeUndefined()
    expect(evaluateTemplate('${{ env.constructor }}', ctx)).toBeUndefined()
    expect(evaluateTemplate("${{ params['toString'] }}", ctx)).toBeUndefined()
    expect(evaluateTemplate('${{ length(params.steps) }}', ctx)).toBe(3) // own members still read
    expect(evaluateTemplate('${{ params.steps[1] }}', ctx)).toBe(50)
  })

  test('secrets.X reads the environment and masks the value; one too short to mask is refused', () => {
    process.env.CLIPPER_TEST_LONG_SECRET = 'hunter2-long-enough'
    process.env.CLIPPER_TEST_SHORT_SECRET = 'abc'
    try {
      const redactor = new Redactor({})
      const c = baseContexts({params: {}, environment: 'x', id: 'r', createdAt: ''}, redactor, false)
      expect(evaluateTemplate('${{ secrets.CLIPPER_TEST_LONG_SECRET }}', c)).toBe('hunter2-long-enough')
      expect(redactor.text('token hunter2-long-enough')).toBe('token ***')
      expect(() => evaluateTemplate('${{ secrets.CLIPPER_TEST_SHORT_SECRET }}', c)).toThrow(/3 character\(s\) long; a secret that short cannot be masked/)
      expect(evaluateTemplate('${{ secrets.CLIPPER_TEST_NOT_SET }}', c)).toBeUndefined()
    } finally {
      delete process.env.CLIPPER_TEST_LONG_SECRET
      delete process.env.CLIPPER_TEST_SHORT_SECRET
    }
  })

  test('operators, functions and conditions', () => {
    expect(evaluateCondition('${{ params.on && item >= 50 }}', ctx)).toBe(true)
    expect(evaluateCondition('params.n == "3"', ctx)).toBe(true)
    expect(evaluateCondition("!contains(params.steps, 25) || params.name != 'clpr'", ctx)).toBe(true)
    expect(evaluateTemplate("${{ join(params.steps, '→') }}", ctx)).toBe('10→50→100')
    expect(evaluateTemplate("${{ coalesce(params.missing, 'x') }}", ctx)).toBe('x')
    expect(evaluateTemplate('${{ [1, 2, item] }}', ctx)).toEqual([1, 2, 50])
    expect(resolveDeep({a: ['${{ item }}', {b: '${{ params.on }}'}]}, ctx)).toEqual({a: [50, {b: true}]})
  })

  test('bad expressions and unknown names are errors, never code', () => {
    expect(() => evaluateTemplate('${{ process.exit(1) }}', ctx)).toThrow(ExpressionError)
    expect(() => evaluateTemplate('${{ params. }}', ctx)).toThrow(ExpressionError)
    expect(() => evaluateTemplate('${{ nope(1) }}', ctx)).toThrow(/unknown function/)
    expect(() => evaluateTemplate('${{ 1 + }}', ctx)).toThrow(ExpressionError)
  })

  test('unknown values (dry runs) are reported, not guessed', () => {
    expect(() => evaluateTemplate('${{ steps.a.outputs.weight }}', {steps: {a: {outputs: UNKNOWN}}})).toThrow(UnknownValueError)
  })

  test('referenced paths, for static checks', () => {
    expect(referencedPaths({x: '${{ params.a + steps.b.outputs.c }}', y: 'no'})).toEqual([
      {root: 'params', first: 'a', second: undefined},
      {root: 'steps', first: 'b', second: 'outputs'},
    ])
  })
})
