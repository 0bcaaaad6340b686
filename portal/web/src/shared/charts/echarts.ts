// ECharts, tree-shaken: only the chart types and components the portals draw are registered
// (the whole library is about three times the size). Add a chart type here when a page needs
// one. Canvas rendering: no inline script or eval, so it works under the pages' CSP.
import { LineChart } from 'echarts/charts'
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
} from 'echarts/components'
import { use } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'

use([
  LineChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  DataZoomComponent,
  MarkLineComponent,
  CanvasRenderer,
])

export type { EChartsCoreOption as ChartOption } from 'echarts/core'
