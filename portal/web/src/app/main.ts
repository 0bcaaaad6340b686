import { startPortal } from '@/shared/portal-app'

import ConsoleShell from './components/ConsoleShell.vue'
import AlarmsPage from './pages/AlarmsPage.vue'
import OverviewPage from './pages/OverviewPage.vue'

startPortal('app', [
  {
    path: '',
    component: ConsoleShell,
    children: [
      { path: '', name: 'home', component: OverviewPage },
      { path: 'alarms', name: 'alarms', component: AlarmsPage, meta: { ownSiteFilter: true } },
      {
        path: 'alarms/:id',
        name: 'alarm',
        component: () => import('./pages/AlarmDetailPage.vue'),
        meta: { ownSiteFilter: true, menu: 'alarms' },
      },
      // The chart page carries ECharts: loaded when first opened.
      { path: 'sensors/:id?', name: 'sensor-history', component: () => import('./pages/SensorHistoryPage.vue') },
      // The management pages, each loaded when first opened.
      {
        path: 'work-orders',
        name: 'work-orders',
        component: () => import('./pages/WorkOrdersPage.vue'),
        meta: { ownSiteFilter: true },
      },
      {
        path: 'work-orders/:id',
        name: 'work-order',
        component: () => import('./pages/WorkOrderDetailPage.vue'),
        meta: { ownSiteFilter: true, menu: 'work-orders' },
      },
      { path: 'handovers', name: 'handovers', component: () => import('./pages/HandoversPage.vue') },
      { path: 'devices', name: 'devices', component: () => import('./pages/DevicesPage.vue') },
      { path: 'people', name: 'people', component: () => import('./pages/PeoplePage.vue') },
      { path: 'hazards', name: 'hazards', component: () => import('./pages/HazardsPage.vue') },
      { path: 'notices', name: 'notices', component: () => import('./pages/NoticesPage.vue') },
      {
        path: 'notices/:id',
        name: 'notice',
        component: () => import('./pages/NoticeDetailPage.vue'),
        meta: { menu: 'notices' },
      },
      {
        path: 'inspections/:id',
        name: 'inspection',
        component: () => import('./pages/InspectionDetailPage.vue'),
        meta: { menu: 'notices' },
      },
      { path: 'permits', name: 'permits', component: () => import('./pages/PermitsPage.vue') },
      { path: 'audit', name: 'audit', component: () => import('./pages/AuditPage.vue') },
    ],
  },
])
