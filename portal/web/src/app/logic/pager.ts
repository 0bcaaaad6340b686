// Paging through a list the server pages with `first` and `after` (the last id of the
// previous page): one more than a page is asked for, so whether a next page exists is known
// without another request; going back replays the cursors seen.
export interface CursorPage<T> {
  items: T[]
  hasNext: boolean
}

/** The page to show from an answer to `first: size + 1`. */
export function cutPage<T>(answer: readonly T[], size: number): CursorPage<T> {
  return { items: answer.slice(0, size), hasNext: answer.length > size }
}

export class CursorTrail {
  /** `after` of each page seen so far; the first page has none. */
  private readonly cursors: (string | null)[] = [null]

  get index(): number {
    return this.cursors.length - 1
  }

  get after(): string | null {
    return this.cursors[this.cursors.length - 1] ?? null
  }

  next(lastId: string): void {
    this.cursors.push(lastId)
  }

  back(): void {
    if (this.cursors.length > 1) this.cursors.pop()
  }

  reset(): void {
    this.cursors.splice(1)
  }
}
