import { describe, expect, it } from 'vitest'
import { failureClasses, parseJunit } from './run-schemathesis.js'

// Shaped like schemathesis 4.32's JUnit report: one <testcase> per operation, a passing one self-closing, a
// failure's text listing its cases, and the stateful phase's cases as a sequence of curl commands.
const junit = `<?xml version="1.0" encoding="utf-8"?>
<testsuites errors="1" failures="2" tests="4">
  <testsuite name="schemathesis">
    <testcase name="POST /ads" time="1.7" />
    <testcase name="GET /ads" time="0.9">
      <failure type="failure" message="ST101, ST103">1. Test Case ID: dubX6z

- ST101 Server error

- ST103 Undocumented status code

[500] Internal Server Error:

    \`{&quot;statusCode&quot;:500}\`

Reproduce with:

    curl -X GET 'http://127.0.0.1:1/ads?offset=1&amp;limit=2'

2. Test Case ID: p8mFd5

- ST204 Wrong response to undeclared method

Reproduce with:

    curl -X TRACE http://127.0.0.1:1/ads</failure>
    </testcase>
    <testcase name="GET /ads/top" time="0.1">
      <error type="error" message="Runtime Error">AST constructor recursion depth mismatch</error>
    </testcase>
    <testcase name="Stateful tests" time="11.2">
      <failure type="failure" message="ST301">1. Test Case ID: dq3qTC

- ST301 Deleted resource still available

Reproduce with:

    curl -X DELETE http://127.0.0.1:1/ads/x
    curl -X GET http://127.0.0.1:1/ads/x</failure>
    </testcase>
  </testsuite>
</testsuites>`

describe('parseJunit', () => {
  const { failures, errors } = parseJunit(junit)

  it('reads each failing case with its checks and curl commands, passing operations not at all', () => {
    expect(failures.map((f) => [f.operation, f.checks, f.curls])).toEqual([
      [
        'GET /ads',
        ['ST101 Server error', 'ST103 Undocumented status code'],
        ["curl -X GET 'http://127.0.0.1:1/ads?offset=1&limit=2'"],
      ],
      ['GET /ads', ['ST204 Wrong response to undeclared method'], ['curl -X TRACE http://127.0.0.1:1/ads']],
      [
        'Stateful tests',
        ['ST301 Deleted resource still available'],
        ['curl -X DELETE http://127.0.0.1:1/ads/x', 'curl -X GET http://127.0.0.1:1/ads/x'],
      ],
    ])
    expect(failures[0]?.text).toContain('{"statusCode":500}')
  })

  it('reports the tool errors apart from the API failures', () => {
    expect(errors).toEqual([{ operation: 'GET /ads/top', text: 'AST constructor recursion depth mismatch' }])
  })

  it('groups the failures by check and operation, one reproduction each', () => {
    expect(failureClasses(failures)).toEqual([
      "ST101 Server error | GET /ads (1 case)\n    curl -X GET 'http://127.0.0.1:1/ads?offset=1&limit=2'",
      "ST103 Undocumented status code | GET /ads (1 case)\n    curl -X GET 'http://127.0.0.1:1/ads?offset=1&limit=2'",
      'ST204 Wrong response to undeclared method | GET /ads (1 case)\n    curl -X TRACE http://127.0.0.1:1/ads',
      'ST301 Deleted resource still available | Stateful tests (1 case)\n' +
        '    curl -X DELETE http://127.0.0.1:1/ads/x\n    curl -X GET http://127.0.0.1:1/ads/x',
    ])
  })
})
