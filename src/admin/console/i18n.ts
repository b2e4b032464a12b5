/**
 * The console's words in Simplified Chinese and English (the store staff read Chinese, the
 * installer often English). The language comes from `?lang=`, then the `lang` cookie the switch
 * sets, then the browser's `Accept-Language`.
 *
 * @module
 */
import type { Alert } from "../alerts.ts";

/** A language of the console. */
export type Lang = "zh" | "en";

const EN = {
  title: "Store console",
  overview: "Overview",
  devices: "Devices",
  labels: "Labels",
  stock: "Stock and AGVs",
  money: "Money and upstream",
  audit: "Audit log",
  shop: "Shop",
  version: "Version",
  uptime: "Up for",
  state: "State",
  lastError: "Last error",
  database: "Database",
  mqtt: "MQTT broker",
  payment: "Payment server",
  odoo: "Odoo",
  up: "up",
  down: "down",
  off: "not configured",
  connecting: "connecting",
  salesToday: "Today's sales",
  orders: "orders",
  amountPaid: "Amount paid",
  pending: "pending",
  paid: "paid",
  failed: "failed",
  expired: "expired",
  openAlerts: "Open alerts",
  noAlerts: "No open alerts.",
  device: "Device",
  kind: "Kind",
  online: "online",
  offline: "offline",
  disabled: "disabled",
  lastSeen: "Last seen",
  never: "never",
  address: "Address",
  labelsServed: "Labels served",
  actions: "Actions",
  disable: "Disable",
  enable: "Enable",
  teachIn: "Teach-in window",
  teachInOpen: "open until",
  teachInClosed: "closed: unknown devices are refused when admission is registered",
  minutes: "minutes",
  open: "Open",
  close: "Close",
  admitted: "Admitted in this window",
  mac: "Label MAC",
  goods: "Goods",
  barcode: "Barcode",
  servedBy: "Base station",
  freshness: "Freshness",
  fresh: "fresh",
  stale: "stale since",
  unknown: "unknown",
  shownPrice: "Shown price",
  currentPrice: "Current price",
  find: "Find",
  findHint: "MAC, barcode, name or base station",
  bind: "Bind a label to goods by barcode",
  bindButton: "Bind",
  device_optional: "base station (optional)",
  shelf: "Shelf",
  quantity: "Quantity",
  threshold: "Threshold",
  place: "Place",
  underThreshold: "under threshold",
  negative: "negative",
  negativeStock: "Negative shelf stock",
  refillJobs: "Open refill jobs",
  agv: "AGV",
  reason: "Reason",
  attempts: "Attempts",
  none: "None.",
  paymentCalls: "Payment calls pending",
  payResults: "Pay results owed to devices",
  deliveries: "Odoo deliveries pending / failed",
  retry: "Retry",
  undelivered: "Orders paid here, not yet in Odoo",
  noUpstream: "No Odoo configured: nothing is owed upstream.",
  order: "Order",
  amount: "Amount",
  since: "Since",
  result: "Result",
  when: "When",
  who: "Who",
  what: "What",
  target: "On",
  token: "Admin token",
  tokenSave: "Use",
  tokenHint: "Needed for every change; kept in this tab only.",
  tokenNeeded: "This console is reachable from the shop network: enter the admin token above.",
  live: "live",
  liveOff: "not live",
  done: "Done",
  refused: "Refused: the admin token is missing or wrong (401).",
  language: "中文",
  all: "all",
  minutesAgo: "min ago",
};

/** The console's words of one language. */
export type Words = typeof EN;

const ZH: Words = {
  title: "门店控制台",
  overview: "概览",
  devices: "设备",
  labels: "价签",
  stock: "库存与AGV",
  money: "收款与上游",
  audit: "操作记录",
  shop: "门店",
  version: "版本",
  uptime: "已运行",
  state: "状态",
  lastError: "最近错误",
  database: "数据库",
  mqtt: "MQTT 消息服务",
  payment: "支付服务器",
  odoo: "Odoo",
  up: "正常",
  down: "不可用",
  off: "未配置",
  connecting: "连接中",
  salesToday: "今日销售",
  orders: "单",
  amountPaid: "已收金额",
  pending: "待支付",
  paid: "已支付",
  failed: "失败",
  expired: "已过期",
  openAlerts: "当前告警",
  noAlerts: "没有告警。",
  device: "设备",
  kind: "类型",
  online: "在线",
  offline: "离线",
  disabled: "已停用",
  lastSeen: "最后在线",
  never: "从未",
  address: "地址",
  labelsServed: "所带价签",
  actions: "操作",
  disable: "停用",
  enable: "启用",
  teachIn: "学习窗口",
  teachInOpen: "开放至",
  teachInClosed: "已关闭：登记制下未知设备将被拒绝",
  minutes: "分钟",
  open: "开放",
  close: "关闭",
  admitted: "本窗口接纳的设备",
  mac: "价签 MAC",
  goods: "商品",
  barcode: "条码",
  servedBy: "基站",
  freshness: "同步状态",
  fresh: "已同步",
  stale: "未同步，自",
  unknown: "未知",
  shownPrice: "显示价格",
  currentPrice: "当前价格",
  find: "查找",
  findHint: "MAC、条码、名称或基站",
  bind: "按条码绑定价签与商品",
  bindButton: "绑定",
  device_optional: "基站（可选）",
  shelf: "货架",
  quantity: "数量",
  threshold: "补货阈值",
  place: "位置",
  underThreshold: "低于阈值",
  negative: "负库存",
  negativeStock: "货架负库存",
  refillJobs: "进行中的补货任务",
  agv: "AGV",
  reason: "原因",
  attempts: "尝试次数",
  none: "无。",
  paymentCalls: "待发送的支付请求",
  payResults: "待通知设备的支付结果",
  deliveries: "待送达 / 失败的 Odoo 同步",
  retry: "重试",
  undelivered: "本地已支付、尚未同步到 Odoo 的订单",
  noUpstream: "未配置 Odoo：无需向上游同步。",
  order: "订单",
  amount: "金额",
  since: "开始于",
  result: "结果",
  when: "时间",
  who: "操作者",
  what: "操作",
  target: "对象",
  token: "管理令牌",
  tokenSave: "使用",
  tokenHint: "所有修改都需要令牌；仅保存在本标签页。",
  tokenNeeded: "此控制台可从门店网络访问：请在上方输入管理令牌。",
  live: "实时",
  liveOff: "未连接",
  done: "完成",
  refused: "被拒绝：管理令牌缺失或错误（401）。",
  language: "English",
  all: "全部",
  minutesAgo: "分钟前",
};

/** The words of a language. */
export function words(lang: Lang): Words {
  return lang === "zh" ? ZH : EN;
}

const KINDS: Record<Lang, Record<string, string>> = {
  en: {
    DZBQ: "shelf-label base station",
    DZC: "scale",
    POS: "till",
    RFID: "RFID reader",
    AGV: "AGV (restocking cart)",
    PRN: "receipt printer",
  },
  zh: {
    DZBQ: "电子价签基站",
    DZC: "电子秤",
    POS: "收银台",
    RFID: "RFID 读取器",
    AGV: "AGV 补货小车",
    PRN: "小票打印机",
  },
};

/** A device kind (its ID prefix) in words; an unknown prefix is shown as it is. */
export function kindWords(lang: Lang, kind: string): string {
  return KINDS[lang][kind] ?? (lang === "zh" ? `其他（${kind}）` : `other (${kind})`);
}

/** An alert in words. */
export function alertWords(lang: Lang, a: Alert): string {
  const p = a.params;
  if (lang === "en") return a.message;
  switch (a.rule) {
    case "database_down":
      return `数据库不可用${p.detail ? `：${p.detail}` : ""}`;
    case "broker_down":
      return `MQTT 消息服务不可用（已合并 ${p.devices} 条设备告警和 ${p.labels} 个价签告警）`;
    case "all_devices_offline":
      return `全部 ${p.devices} 台设备离线（门店网络？）`;
    case "base_station_offline":
      return `价签基站 ${p.equipId} 离线：${p.labels} 个价签无法更新`;
    case "device_offline":
      return `设备 ${p.equipId} 离线`;
    case "payment_unreachable":
      return `支付服务器 ${p.minutes} 分钟无法连接${p.detail ? `：${p.detail}` : ""}`;
    case "odoo_unreachable":
      return `Odoo ${p.minutes} 分钟无法连接${p.detail ? `：${p.detail}` : ""}`;
    case "outbox_growing":
      return `${p.depth} 条${p.upstream === "payment" ? "支付请求" : "Odoo 同步"}积压未送达`;
    case "labels_stale":
      return `${p.labels} 个价签超过 ${p.minutes} 分钟未同步`;
    case "stock_negative":
      return `${p.name}（${p.goodsId}）货架库存为 ${p.quantity}`;
    case "disk_full":
      return `磁盘已满${
        p.freeMb !== "" ? `（剩余 ${p.freeMb} MB）` : ""
      }：${p.path}；订单、入库和付款暂停记录，请释放空间`;
    case "disk_low":
      return `磁盘空间不足：${p.path} 剩余 ${p.freeMb} MB（共 ${p.totalMb} MB，低于 ${p.warnMb} MB 时提醒）`;
  }
}

/** Picks the language: `?lang=`, then the `lang` cookie, then `Accept-Language` (default en). */
export function pickLanguage(request: Request): Lang {
  const asked = new URL(request.url).searchParams.get("lang");
  if (asked === "zh" || asked === "en") return asked;
  const cookie = /(?:^|;\s*)lang=(zh|en)(?:;|$)/.exec(request.headers.get("cookie") ?? "");
  if (cookie) return cookie[1] as Lang;
  const accepted = (request.headers.get("accept-language") ?? "").split(",").map((part) => {
    const [tag, ...rest] = part.trim().toLowerCase().split(";");
    const q = rest.find((r) => r.trim().startsWith("q="));
    return { tag, q: q ? Number(q.trim().slice(2)) : 1 };
  }).filter((x) => x.tag && !Number.isNaN(x.q)).sort((a, b) => b.q - a.q);
  for (const { tag } of accepted) {
    if (tag.startsWith("zh")) return "zh";
    if (tag.startsWith("en")) return "en";
  }
  return "en";
}
