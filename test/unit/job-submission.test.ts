/** When a job body's texts are let go: once stored, or when its request finishes first — never while the store reads them. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { JobSubmission, summarize } from '../../src/jobs/submission.js'

/** A submission that counts how often its texts are let go. */
class CountingSubmission extends JobSubmission {
  drops = 0
  constructor() {
    super(summarize(['a', 'b'], undefined))
  }
  slice(): Promise<string[]> {
    return Promise.resolve(['a', 'b'])
  }
  protected drop(): void {
    this.drops++
  }
}

test('a request that finishes before its job is stored lets the texts go, once', () => {
  const submission = new CountingSubmission()
  submission.releaseUnlessStoring()
  submission.release()
  assert.equal(submission.drops, 1)
  assert.equal(submission.claimForStore(), false, 'texts already let go cannot be stored')
})

test('a job being stored keeps its texts when its request finishes, until the store is done', () => {
  const submission = new CountingSubmission()
  assert.equal(submission.claimForStore(), true)
  submission.releaseUnlessStoring()
  assert.equal(submission.drops, 0)
  submission.release()
  submission.release()
  assert.equal(submission.drops, 1)
})
