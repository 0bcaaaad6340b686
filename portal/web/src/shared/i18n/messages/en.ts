import type { Messages } from '../messages'

// The same keys as `zh-CN.ts`, in English.
export default {
  brand: {
    name: 'Anjian',
    tagline: 'Intelligent safety-production monitoring',
    title: 'Anjian · Intelligent safety-production monitoring',
  },
  portal: {
    app: 'Enterprise console',
    gov: 'Government portal',
    appTitle: 'Anjian · Enterprise console',
    govTitle: 'Anjian · Government portal',
  },
  language: {
    switchTo: 'Switch language',
    zhCN: '中文',
    en: 'English',
  },
  landing: {
    intro: 'Safety-production monitoring and early warning for enterprises and regulators.',
    appLink: 'Enterprise console',
    appDescription:
      'For shift operators, safety managers and owners: live monitoring, alarm handling, work orders and audit.',
    govLink: 'Government portal',
    govDescription:
      'For emergency-management departments: risk across the jurisdiction, supervision of alarms and statistics.',
    apiLink: 'GraphQL API',
  },
  signIn: {
    heading: '{portal}: sign in',
    email: 'Email',
    password: 'Password',
    submit: 'Sign in',
    missing: 'Enter your email and password.',
    wrongCredentials: 'The email or password is not correct.',
    rateLimited: 'Too many attempts; try again in {seconds} s.',
    unreachable: 'The server cannot be reached. Check the network and try again.',
    failed: 'Sign-in failed: {message}',
    sessionEnded: 'Your session has ended. Please sign in again.',
  },
  layout: {
    signedInAs: 'Signed in as {email}',
    signOut: 'Sign out',
    unreachable: 'The server cannot be reached; what is shown may be out of date.',
    retry: 'Retry',
  },
  console: {
    welcome: 'Welcome to the enterprise console',
    comingSoon: 'Overview, alarm console, sensor history and work orders are on their way.',
  },
  gov: {
    welcome: 'Welcome to the government portal',
    comingSoon: 'Jurisdiction overview, supervision and statistics are on their way.',
  },
  notFound: {
    heading: 'Page not found',
    back: 'Back to the start',
  },
} satisfies Messages
