// Sending a report: a challenge is fetched and solved, the photos are uploaded under it, and
// the report is posted with the same proof (CONTRACT.md: a challenge is good for 10 minutes,
// 5 photo uploads and one report). A proof is kept between tries of the same form, so fixing a
// field the server refused does not mean solving again; when the server says the proof is
// no good (expired, used), a new one is solved and the photos go again under it, once.
import {
  fetchChallenge,
  type Proof,
  ReportApiError,
  submitReport,
  uploadReportPhoto,
  type PhotoUploadOptions,
  type ReportPayload,
} from '../api'
import { solveInWorkers, type Solver } from './solver'

/** A challenge is good for 10 minutes on the server; one older than this is not used. */
export const PROOF_LIFETIME_MS = 9 * 60_000
export const UPLOADS_PER_PROOF = 5

export interface PendingPhoto {
  id: number
  file: File
  /** An object URL for the preview; the page revokes it. */
  preview: string
  /** The uploaded photo's key, and the challenge it was uploaded under. */
  key: string | null
  keyChallenge: string | null
  /** 0 to 1 while uploading. */
  progress: number
  error: string | null
}

export interface HeldProof extends Proof {
  difficulty: number
  obtainedAt: number
  uploads: number
}

export type Stage =
  | { kind: 'challenge' }
  | { kind: 'solving'; tried: number; difficulty: number }
  | { kind: 'uploading'; index: number; count: number }
  | { kind: 'sending' }

export interface SenderDeps {
  fetchChallenge: typeof fetchChallenge
  solve: Solver
  upload: (file: Blob, proof: Proof, options?: PhotoUploadOptions) => Promise<string>
  submit: typeof submitReport
  now: () => number
}

export const defaultDeps: SenderDeps = {
  fetchChallenge,
  solve: solveInWorkers,
  upload: uploadReportPhoto,
  submit: submitReport,
  now: () => Date.now(),
}

/** A photo the server refused (its type, its size): shown beside the photos. */
export class PhotoRefused extends Error {
  constructor(
    readonly photo: PendingPhoto,
    readonly cause: ReportApiError,
  ) {
    super(cause.message)
    this.name = 'PhotoRefused'
  }
}

const isProofRefusal = (error: unknown): boolean =>
  error instanceof ReportApiError && (error.status === 400 || error.status === 403) && error.fieldErrors.some((e) => e.field === 'pow')

export class ReportSender {
  proof: HeldProof | null = null

  constructor(private readonly deps: SenderDeps = defaultDeps) {}

  private async freshProof(onStage: (stage: Stage) => void, signal?: AbortSignal): Promise<HeldProof> {
    onStage({ kind: 'challenge' })
    const { challenge, difficulty } = await this.deps.fetchChallenge()
    onStage({ kind: 'solving', tried: 0, difficulty })
    const nonce = await this.deps.solve(challenge, difficulty, {
      signal,
      onProgress: (tried) => onStage({ kind: 'solving', tried, difficulty }),
    })
    this.proof = { challenge, nonce, difficulty, obtainedAt: this.deps.now(), uploads: 0 }
    return this.proof
  }

  private usable(proof: HeldProof | null, uploadsNeeded: number): proof is HeldProof {
    return proof !== null && this.deps.now() - proof.obtainedAt < PROOF_LIFETIME_MS && proof.uploads + uploadsNeeded <= UPLOADS_PER_PROOF
  }

  private async attempt(payloadOf: (photos: string[], pow: Proof) => ReportPayload, photos: PendingPhoto[], onStage: (stage: Stage) => void, signal?: AbortSignal): Promise<string> {
    const held = this.proof
    const waiting = (proof: HeldProof | null) => photos.filter((photo) => !photo.key || photo.keyChallenge !== proof?.challenge)
    let proof: HeldProof
    if (this.usable(held, waiting(held).length)) proof = held
    else proof = await this.freshProof(onStage, signal)
    const toSend = waiting(proof)
    for (const [index, photo] of toSend.entries()) {
      onStage({ kind: 'uploading', index, count: toSend.length })
      photo.error = null
      photo.progress = 0
      proof.uploads += 1
      try {
        photo.key = await this.deps.upload(photo.file, proof, { signal, onProgress: (share) => (photo.progress = share) })
        photo.keyChallenge = proof.challenge
      } catch (error) {
        if (error instanceof ReportApiError && !isProofRefusal(error) && error.status !== 429 && error.status !== 0) {
          photo.error = error.message
          throw new PhotoRefused(photo, error)
        }
        throw error
      }
    }
    onStage({ kind: 'sending' })
    const receipt = await this.deps.submit(payloadOf(photos.map((photo) => photo.key!), { challenge: proof.challenge, nonce: proof.nonce }))
    this.proof = null // used: a challenge is good for one report
    return receipt
  }

  /** Sends the report; resolves to its receipt code. */
  async send(payloadOf: (photos: string[], pow: Proof) => ReportPayload, photos: PendingPhoto[], onStage: (stage: Stage) => void, signal?: AbortSignal): Promise<string> {
    try {
      return await this.attempt(payloadOf, photos, onStage, signal)
    } catch (error) {
      if (!isProofRefusal(error)) throw error
      this.proof = null
      return await this.attempt(payloadOf, photos, onStage, signal)
    }
  }
}
