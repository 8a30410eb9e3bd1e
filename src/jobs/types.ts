/** Async jobs as the services see them. */
import type { JobStatus } from '../db/schema.js'

export type { JobStatus }

export const FINISHED: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled']

export interface Job {
  id: string
  keyId: string
  /** UTF-8 bytes of its texts. */
  bytes: number
  model: string
  status: JobStatus
  total: number
  done: number
  error: string | null
  createdAt: number
  startedAt: number | null
  finishedAt: number | null
}

/** One text's result, stored as JSON until the job is purged. */
export interface JobResult {
  index: number
  label: string
  confidence: number
  scores: Record<string, number>
}
