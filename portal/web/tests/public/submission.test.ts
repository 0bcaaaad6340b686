// Sending a report: one proof for the photos and the report, kept between tries of the same
// form, solved again (and the photos sent again) when the server says it is no good.
import { describe, expect, it, vi } from 'vitest'

import { type Proof, ReportApiError, type ReportPayload } from '@/public/api'
import { type PendingPhoto, PhotoRefused, ReportSender, type SenderDeps, type Stage } from '@/public/logic/submission'

function photo(id: number): PendingPhoto {
  return { id, file: new File([`photo ${id}`], `p${id}.jpg`, { type: 'image/jpeg' }), preview: '', key: null, keyChallenge: null, progress: 0, error: null }
}

const payloadOf = (photos: string[], pow: Proof) => ({ photos, pow }) as unknown as ReportPayload
const powRefusal = () => new ReportApiError('bad proof', 400, [{ field: 'pow', message: 'the challenge has expired' }])

function deps(overrides: Partial<SenderDeps> = {}) {
  let challenges = 0
  let clock = 1_000_000
  const calls = {
    challenges: 0,
    uploads: [] as { name: string; proof: Proof }[],
    reports: [] as ReportPayload[],
    tick: (ms: number) => (clock += ms),
  }
  const base: SenderDeps = {
    fetchChallenge: vi.fn(async () => {
      calls.challenges += 1
      return { challenge: `ch-${++challenges}`, difficulty: 4 }
    }),
    solve: vi.fn(async (challenge: string, _difficulty: number, options) => {
      options?.onProgress?.(10)
      return `n-${challenge}`
    }),
    upload: vi.fn(async (file: Blob, proof: Proof, options) => {
      options?.onProgress?.(0.5)
      calls.uploads.push({ name: (file as File).name, proof })
      return `key-${(file as File).name}-${proof.challenge}`
    }),
    submit: vi.fn(async (payload: ReportPayload) => {
      calls.reports.push(payload)
      return 'AJ-0000-0000-0000-0001'
    }),
    now: () => clock,
    ...overrides,
  }
  return { deps: base, calls }
}

describe('ReportSender', () => {
  it('solves one challenge, uploads every photo under it and posts the report with it', async () => {
    const { deps: d, calls } = deps()
    const stages: Stage['kind'][] = []
    const photos = [photo(1), photo(2)]
    const receipt = await new ReportSender(d).send(payloadOf, photos, (stage) => stages.push(stage.kind))
    expect(receipt).toBe('AJ-0000-0000-0000-0001')
    expect(calls.challenges).toBe(1)
    expect(calls.uploads).toEqual([
      { name: 'p1.jpg', proof: { challenge: 'ch-1', nonce: 'n-ch-1', difficulty: 4, obtainedAt: 1_000_000, uploads: 2 } },
      { name: 'p2.jpg', proof: expect.objectContaining({ challenge: 'ch-1', nonce: 'n-ch-1' }) },
    ])
    expect(calls.reports).toEqual([{ photos: ['key-p1.jpg-ch-1', 'key-p2.jpg-ch-1'], pow: { challenge: 'ch-1', nonce: 'n-ch-1' } }])
    expect(new Set(stages)).toEqual(new Set(['challenge', 'solving', 'uploading', 'sending']))
  })

  it('keeps the proof and the uploaded photos for another try after a refused field', async () => {
    const { deps: d, calls } = deps()
    const refuse = vi.fn().mockRejectedValueOnce(new ReportApiError('bad', 400, [{ field: 'description', message: 'too short' }]))
    d.submit = vi.fn(async (payload: ReportPayload) => {
      await refuse()
      calls.reports.push(payload)
      return 'AJ-0000-0000-0000-0002'
    })
    const sender = new ReportSender(d)
    const photos = [photo(1)]
    await expect(sender.send(payloadOf, photos, () => {})).rejects.toMatchObject({ status: 400 })
    expect(await sender.send(payloadOf, photos, () => {})).toBe('AJ-0000-0000-0000-0002')
    expect(calls.challenges).toBe(1)
    expect(calls.uploads).toHaveLength(1)
    expect(sender.proof).toBeNull() // used by the report
  })

  it('solves a new challenge and sends the photos again when the proof is refused', async () => {
    const { deps: d, calls } = deps()
    d.submit = vi
      .fn()
      .mockRejectedValueOnce(powRefusal())
      .mockImplementation(async (payload: ReportPayload) => {
        calls.reports.push(payload)
        return 'AJ-0000-0000-0000-0003'
      })
    const photos = [photo(1)]
    expect(await new ReportSender(d).send(payloadOf, photos, () => {})).toBe('AJ-0000-0000-0000-0003')
    expect(calls.challenges).toBe(2)
    expect(calls.uploads.map((upload) => upload.proof.challenge)).toEqual(['ch-1', 'ch-2'])
    expect(calls.reports).toEqual([{ photos: ['key-p1.jpg-ch-2'], pow: { challenge: 'ch-2', nonce: 'n-ch-2' } }])
  })

  it('gives up after a second refused proof', async () => {
    const { deps: d } = deps({ submit: vi.fn().mockRejectedValue(powRefusal()) })
    await expect(new ReportSender(d).send(payloadOf, [], () => {})).rejects.toMatchObject({ status: 400 })
    expect(d.fetchChallenge).toHaveBeenCalledTimes(2)
  })

  it('does not use a proof older than the server keeps it, or one with its uploads spent', async () => {
    const { deps: d, calls } = deps()
    d.submit = vi.fn().mockRejectedValueOnce(new ReportApiError('bad', 400, [{ field: 'category', message: 'unknown' }])).mockResolvedValue('AJ-1')
    const sender = new ReportSender(d)
    const photos = [photo(1)]
    await expect(sender.send(payloadOf, photos, () => {})).rejects.toBeInstanceOf(ReportApiError)
    calls.tick(9 * 60_000 + 1)
    await sender.send(payloadOf, photos, () => {})
    expect(calls.challenges).toBe(2)
    expect(calls.uploads.map((upload) => upload.proof.challenge)).toEqual(['ch-1', 'ch-2'])

    // Five uploads spent on one proof: a sixth needs a new challenge (and all photos go again).
    const { deps: d2, calls: calls2 } = deps()
    d2.submit = vi.fn().mockRejectedValueOnce(new ReportApiError('bad', 400, [{ field: 'category', message: 'unknown' }])).mockResolvedValue('AJ-2')
    const sender2 = new ReportSender(d2)
    const five = [1, 2, 3, 4, 5].map(photo)
    await expect(sender2.send(payloadOf, five, () => {})).rejects.toBeInstanceOf(ReportApiError)
    five[4] = photo(6)
    await sender2.send(payloadOf, five, () => {})
    expect(calls2.challenges).toBe(2)
    expect(calls2.uploads.filter((upload) => upload.proof.challenge === 'ch-2')).toHaveLength(5)
  })

  it('marks a photo the server refuses and sends no report', async () => {
    const { deps: d, calls } = deps()
    d.upload = vi.fn().mockRejectedValue(new ReportApiError('not an image', 415))
    const photos = [photo(1)]
    const refused = await new ReportSender(d).send(payloadOf, photos, () => {}).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(PhotoRefused)
    expect(photos[0]!.error).toBe('not an image')
    expect(photos[0]!.key).toBeNull()
    expect(calls.reports).toEqual([])
  })
})
