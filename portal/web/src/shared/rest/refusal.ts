// What a refused REST request says: the REST routes answer `{"error": "..."}`; other bodies
// (a framework's own `detail`, plain text) are read as well as they can be.

/** The server's words for a refused request, from its status and body text. */
export function refusalText(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown }
    for (const value of [body.error, body.message, body.detail]) {
      if (typeof value === 'string' && value) return value
    }
  } catch {
    // Not JSON: the text itself says what went wrong.
  }
  return text.trim() || `HTTP ${status}`
}

/** The body of a refused `fetch`, as `refusalText` reads it. */
export async function refusal(response: Response): Promise<string> {
  return refusalText(response.status, await response.text())
}
