// Every string a page shows, in Chinese (the default). `en.ts` has the same keys; a test fails
// when either file misses a key the other has or one that the sources use.
export default {
  brand: {
    name: '安监',
    tagline: '安全生产智能监控',
    title: '安监 · 安全生产智能监控',
  },
  portal: {
    app: '企业端',
    gov: '政府端',
    appTitle: '安监 · 企业端',
    govTitle: '安监 · 政府端',
  },
  language: {
    switchTo: '切换语言',
    zhCN: '中文',
    en: 'English',
  },
  landing: {
    intro: '面向企业与监管部门的安全生产监测预警平台。',
    appLink: '企业端',
    appDescription: '企业的值班员、安全管理员和负责人：实时监测、报警处置、工单与审计。',
    govLink: '政府端',
    govDescription: '应急管理部门：辖区企业的风险态势、报警督办与统计分析。',
    apiLink: 'GraphQL 接口',
  },
  signIn: {
    heading: '{portal}登录',
    email: '邮箱',
    password: '密码',
    submit: '登录',
    missing: '请输入邮箱和密码。',
    wrongCredentials: '邮箱或密码不正确。',
    rateLimited: '尝试次数过多，请 {seconds} 秒后再试。',
    unreachable: '无法连接服务器，请检查网络后重试。',
    failed: '登录失败：{message}',
    sessionEnded: '登录已过期，请重新登录。',
  },
  layout: {
    signedInAs: '当前用户 {email}',
    signOut: '退出登录',
    unreachable: '无法连接服务器，显示的内容可能不是最新的。',
    retry: '重试',
  },
  console: {
    welcome: '欢迎使用企业端',
    comingSoon: '总览、报警处置、监测曲线和工单等页面正在建设中。',
  },
  gov: {
    welcome: '欢迎使用政府端',
    comingSoon: '辖区态势、督办和统计等页面正在建设中。',
  },
  notFound: {
    heading: '页面不存在',
    back: '返回首页',
  },
}
