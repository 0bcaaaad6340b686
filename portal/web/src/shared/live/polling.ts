// Refreshing a view: at once, then every `intervalMs`, and sooner when something happened
// (`refresh()`, e.g. on a subscription event). Never two loads at a time: a refresh asked for
// during one runs right after it. Stops with the component.
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

export interface Polling {
  /** Load now (or right after the load running). */
  refresh: () => Promise<void>
  /** The last load's error, null once one succeeds. */
  error: Ref<unknown>
  loading: Ref<boolean>
}

export function usePolling(load: () => Promise<void>, intervalMs: number): Polling {
  const error = ref<unknown>(null)
  const loading = ref(false)
  let timer: ReturnType<typeof setTimeout> | null = null
  let running: Promise<void> | null = null
  let again = false
  let stopped = false

  function schedule(): void {
    if (timer) clearTimeout(timer)
    if (!stopped) timer = setTimeout(() => void refresh(), intervalMs)
  }

  async function run(): Promise<void> {
    loading.value = true
    try {
      await load()
      error.value = null
    } catch (caught) {
      // Shown by the page; the connection banner and the session guard hear it too.
      error.value = caught
    } finally {
      loading.value = false
    }
  }

  async function refresh(): Promise<void> {
    if (stopped) return
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      do {
        again = false
        await run()
      } while (again && !stopped)
    })()
    try {
      await running
    } finally {
      running = null
      schedule()
    }
  }

  onMounted(() => void refresh())
  onBeforeUnmount(() => {
    stopped = true
    if (timer) clearTimeout(timer)
  })

  return { refresh, error, loading }
}
