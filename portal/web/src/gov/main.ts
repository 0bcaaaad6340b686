import './styles/risk.css'

import { startPortal } from '@/shared/portal-app'

import GovShell from './components/GovShell.vue'
import DivisionPage from './pages/DivisionPage.vue'

startPortal('gov', [
  {
    path: '',
    component: GovShell,
    children: [
      { path: '', name: 'home', component: DivisionPage },
      { path: 'divisions/:code', name: 'division', component: DivisionPage, meta: { govMenu: 'home' } },
      { path: 'sites/:id', name: 'site', component: () => import('./pages/SitePage.vue'), meta: { govMenu: 'home' } },
      { path: 'alarms', name: 'alarms', component: () => import('./pages/AlarmsPage.vue') },
      { path: 'reports', name: 'reports', component: () => import('./pages/ReportsPage.vue') },
      {
        path: 'reports/:id',
        name: 'report',
        component: () => import('./pages/ReportDetailPage.vue'),
        meta: { govMenu: 'reports' },
      },
      { path: 'rankings', name: 'rankings', component: () => import('./pages/RankingsPage.vue') },
      { path: 'quality', name: 'quality', component: () => import('./pages/DataQualityPage.vue') },
      { path: 'supervisions', name: 'supervisions', component: () => import('./pages/SupervisionsPage.vue') },
      { path: 'inspections', name: 'inspections', component: () => import('./pages/InspectionsPage.vue') },
      {
        path: 'inspections/:id',
        name: 'inspection',
        component: () => import('./pages/InspectionDetailPage.vue'),
        meta: { govMenu: 'inspections' },
      },
      { path: 'notices', name: 'notices', component: () => import('./pages/NoticesPage.vue') },
      {
        path: 'notices/:id',
        name: 'notice',
        component: () => import('./pages/NoticeDetailPage.vue'),
        meta: { govMenu: 'notices' },
      },
    ],
  },
])
