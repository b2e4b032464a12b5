/**
 * The console's words in Simplified Chinese and English (the store staff read Chinese, the
 * installer often English): every text a page shows comes from here — the page words, device
 * kinds, audit actions, actors and detail keys, Odoo delivery kinds, alerts, and the reasons and
 * errors the appliance stores in English (a push's `timeout`, a refill job's wait, an API answer),
 * matched by pattern. What a peer wrote (a device's exception, Odoo's error text) cannot be
 * translated: it is shown as it came, marked `raw`.
 *
 * The language comes from `?lang=`, then the `lang` cookie the switch sets, then the browser's
 * `Accept-Language`.
 *
 * @module
 */
import type { Alert, AlertRule } from "../alerts.ts";

/** A language of the console. */
export type Lang = "zh" | "en";

/** The languages, English first (the table the Chinese pages are checked against). */
export const LANGS: readonly Lang[] = ["en", "zh"];

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
  services: "Services",
  service: "Service",
  state: "State",
  detail: "Detail",
  lastError: "Last error",
  database: "Database",
  mqtt: "MQTT broker",
  payment: "Payment server",
  odoo: "Odoo",
  up: "up",
  down: "down",
  off: "not configured",
  connecting: "connecting",
  offMqtt: "Set mqttUrl (MQTT_URL) to receive payment results and door events.",
  offPayment: "Set paymentServerUrl (NEWRETAIL_PAYMENT_SERVER_URL) to send payment orders.",
  offOdoo: "Set odooUrl (NEWRETAIL_ODOO_URL): without it the local catalogue rules.",
  salesToday: "Today's sales",
  salesByHour: "Paid per hour, today",
  noSalesToday: "No paid orders yet today.",
  ordersCount: "Orders",
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
  staleShort: "stale",
  unknown: "unknown",
  freshnessDay: "Labels by freshness, last 24 hours",
  noSamples: "No samples yet: the console counts the labels every 5 minutes.",
  labelsNow: "now",
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
  place: "Shelf place",
  aisle: "aisle",
  shelfPart: "shelf",
  level: "level",
  underThreshold: "under threshold",
  manual: "asked for by hand",
  negative: "negative",
  negativeStock: "Negative shelf stock",
  refillJobs: "Open refill jobs",
  agv: "AGV",
  reason: "Reason",
  attempts: "Attempts",
  none: "None.",
  paymentCalls: "Payment calls pending",
  paymentCallsOff: "Payment calls: no payment server configured",
  paymentCallsKept:
    "{n} kept; they are sent once paymentServerUrl (NEWRETAIL_PAYMENT_SERVER_URL) is set.",
  payResults: "Pay results owed to devices",
  resultSuccess: "paid",
  resultError: "payment failed",
  deliveries: "Odoo deliveries pending / failed",
  deliveryPending: "waiting",
  deliveryFailed: "failed, parked",
  notQueued: "not queued",
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
  details: "Details",
  yes: "yes",
  no: "no",
  openEnded: "open-ended",
  token: "Admin token",
  tokenSave: "Use",
  tokenHint: "Needed for every change; kept in this tab only.",
  tokenNeeded: "This console is reachable from the shop network: enter the admin token above.",
  live: "live",
  liveOff: "not live",
  done: "Done",
  notDone: "Not done",
  refused: "Refused: the admin token is missing or wrong (401).",
  language: "中文",
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
  services: "服务状态",
  service: "服务",
  state: "状态",
  detail: "说明",
  lastError: "最近错误",
  database: "数据库",
  mqtt: "MQTT 消息服务",
  payment: "支付服务器",
  odoo: "Odoo",
  up: "正常",
  down: "不可用",
  off: "未配置",
  connecting: "连接中",
  offMqtt: "设置 mqttUrl（MQTT_URL）后可接收支付结果和门禁事件。",
  offPayment: "设置 paymentServerUrl（NEWRETAIL_PAYMENT_SERVER_URL）后才会发送支付订单。",
  offOdoo: "设置 odooUrl（NEWRETAIL_ODOO_URL）后与 Odoo 同步；未设置时以本地商品资料为准。",
  salesToday: "今日销售",
  salesByHour: "今日每小时收款",
  noSalesToday: "今天还没有已支付的订单。",
  ordersCount: "订单数",
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
  staleShort: "未同步",
  unknown: "未知",
  freshnessDay: "近 24 小时价签同步状态",
  noSamples: "尚无采样：控制台每 5 分钟统计一次价签。",
  labelsNow: "现在",
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
  place: "货架位置",
  aisle: "通道",
  shelfPart: "货架",
  level: "层",
  underThreshold: "低于阈值",
  manual: "手动补货",
  negative: "负库存",
  negativeStock: "货架负库存",
  refillJobs: "进行中的补货任务",
  agv: "AGV",
  reason: "原因",
  attempts: "尝试次数",
  none: "无。",
  paymentCalls: "待发送的支付请求",
  paymentCallsOff: "支付请求：未配置支付服务器",
  paymentCallsKept: "已保留 {n} 条；设置 paymentServerUrl（NEWRETAIL_PAYMENT_SERVER_URL）后发送。",
  payResults: "待通知设备的支付结果",
  resultSuccess: "支付成功",
  resultError: "支付失败",
  deliveries: "待送达 / 失败的 Odoo 同步",
  deliveryPending: "等待送达",
  deliveryFailed: "失败，已搁置",
  notQueued: "未排队",
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
  details: "详情",
  yes: "是",
  no: "否",
  openEnded: "不限",
  token: "管理令牌",
  tokenSave: "使用",
  tokenHint: "所有修改都需要令牌；仅保存在本标签页。",
  tokenNeeded: "此控制台可从门店网络访问：请在上方输入管理令牌。",
  live: "实时",
  liveOff: "未连接",
  done: "完成",
  notDone: "未完成",
  refused: "被拒绝：管理令牌缺失或错误（401）。",
  language: "English",
};

/** The words of a language. */
export function words(lang: Lang): Words {
  return lang === "zh" ? ZH : EN;
}

/** Fills `{name}` slots of a word with values. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (slot, name) => String(values[name] ?? slot));
}

/** Codes the appliance stores (device kinds, audit actions…), in words, by language. */
type CodeTable = Record<Lang, Record<string, string>>;

const KINDS: CodeTable = {
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

/** Audit actions (`audit_log.action`): who may write them is in api.ts and the CLI. */
const ACTIONS: CodeTable = {
  en: {
    "device.disable": "disabled a device",
    "device.enable": "enabled a device",
    "label.bind": "bound a label",
    "stock.adjust": "corrected stock after a count",
    "teach-in.open": "opened the teach-in window",
    "teach-in.close": "closed the teach-in window",
    "outbox.retry": "retried an Odoo delivery",
    "backup": "downloaded a backup",
    "price.schedule": "scheduled a price",
    "price.cancel": "cancelled a price schedule",
  },
  zh: {
    "device.disable": "停用设备",
    "device.enable": "启用设备",
    "label.bind": "绑定价签",
    "stock.adjust": "盘点修正库存",
    "teach-in.open": "开放学习窗口",
    "teach-in.close": "关闭学习窗口",
    "outbox.retry": "重试 Odoo 同步",
    "backup": "下载备份",
    "price.schedule": "计划调价",
    "price.cancel": "取消调价计划",
  },
};

/** Audit actors: the admin API's callers and the command line. */
const ACTORS: CodeTable = {
  en: {
    loopback: "this machine (no token)",
    adminToken: "admin token",
    cli: "command line",
  },
  zh: {
    loopback: "本机（无令牌）",
    adminToken: "管理令牌",
    cli: "命令行",
  },
};

/** The keys of audit details, in the order they are shown. */
const AUDIT_KEYS: CodeTable = {
  en: {
    gid: "goods",
    barcode: "barcode",
    warehouse: "warehouse",
    quantity: "counted quantity",
    reason: "reason",
    price: "price",
    from: "from",
    until: "until",
    minutes: "minutes",
    created: "newly registered",
  },
  zh: {
    gid: "商品",
    barcode: "条码",
    warehouse: "仓库",
    quantity: "盘点数量",
    reason: "原因",
    price: "价格",
    from: "开始",
    until: "结束",
    minutes: "分钟",
    created: "新登记",
  },
};

/** What an audit line's target is, by action (`{id}` is the target). */
const AUDIT_TARGETS: CodeTable = {
  en: {
    "stock.adjust": "goods #{id}",
    "price.schedule": "price schedule #{id}",
    "price.cancel": "price schedule #{id}",
    "outbox.retry": "Odoo delivery #{id}",
  },
  zh: {
    "stock.adjust": "商品 #{id}",
    "price.schedule": "调价计划 #{id}",
    "price.cancel": "调价计划 #{id}",
    "outbox.retry": "Odoo 同步任务 #{id}",
  },
};

/** Odoo outbox kinds (migrations 004 and 008). */
const DELIVERY_KINDS: CodeTable = {
  en: { "sale-order": "sale order", "stock-receipt": "stock receipt", refill: "refill transfer" },
  zh: { "sale-order": "销售订单", "stock-receipt": "入库单", refill: "补货调拨" },
};

/** Every code table, for the check that each is worded in both languages. */
export const CODE_TABLES = {
  kinds: KINDS,
  actions: ACTIONS,
  actors: ACTORS,
  auditKeys: AUDIT_KEYS,
  auditTargets: AUDIT_TARGETS,
  deliveryKinds: DELIVERY_KINDS,
} as const;

/** A code in words, or undefined when the table does not know it. */
export function codeWords(
  table: keyof typeof CODE_TABLES,
  lang: Lang,
  code: string,
): string | undefined {
  return Object.hasOwn(CODE_TABLES[table][lang], code) ? CODE_TABLES[table][lang][code] : undefined;
}

/** A device kind (its ID prefix) in words; an unknown prefix is shown as it is. */
export function kindWords(lang: Lang, kind: string): string {
  return codeWords("kinds", lang, kind) ??
    (lang === "zh" ? `其他（${kind}）` : `other (${kind})`);
}

/**
 * A text the appliance stores or answers in English — a reason, an error — and its words: the
 * pattern matches the whole text, `$1`… are its groups (`$0` the whole text), `nested` groups
 * are reasons in turn (an AGV's answer).
 */
interface ReasonEntry {
  pattern: RegExp;
  /** Absent when the stored text reads well as it is. */
  en?: string;
  zh: string;
  nested?: number[];
  /** A text it matches (the tests word every one). */
  sample: string;
}

const REASONS: readonly ReasonEntry[] = [
  // What a device push ended with (src/device_link.ts), stored as a push's or result's last error.
  { pattern: /^timeout$/, en: "no answer in time", zh: "设备未及时应答", sample: "timeout" },
  { pattern: /^closed$/, en: "connection closed", zh: "连接已断开", sample: "closed" },
  { pattern: /^offline$/, en: "device offline", zh: "设备离线", sample: "offline" },
  {
    pattern: /^stopped$/,
    en: "interrupted: the appliance was stopping",
    zh: "服务停止时中断",
    sample: "stopped",
  },
  {
    pattern: /^device answered: (.*)$/s,
    en: "the device answered: $1",
    zh: "设备回复：$1",
    sample: "device answered: 价签忙",
  },
  // A refill job's try: `AGV_0001: timeout` (src/push/refill_dispatcher.ts).
  {
    pattern: /^([A-Z]{2,5}_[A-Za-z0-9]+): (.*)$/s,
    en: "$1: $2",
    zh: "$1：$2",
    nested: [2],
    sample: "AGV_0001: timeout",
  },
  // The payment server's outbox (src/integrations/payment_server.ts).
  {
    pattern: /^no answer within (\S+) s$/,
    zh: "$1 秒内无应答",
    sample: "no answer within 5 s",
  },
  {
    pattern: /^HTTP (\d{3}): (.*)$/s,
    en: "answered HTTP $1: $2",
    zh: "返回 HTTP $1：$2",
    sample: "HTTP 502: Bad Gateway",
  },
  // Connection failures as Deno words them (the rest of the line names the URL again).
  {
    pattern: /^.*Connection refused.*$/s,
    en: "connection refused",
    zh: "连接被拒绝",
    sample:
      "error sending request for url (http://127.0.0.1:9/): client error (Connect): tcp connect error: Connection refused (os error 111)",
  },
  // A refill job's wait or cancellation (src/store/refill_stock.ts).
  {
    pattern: /^no shelf warehouse (.+)$/,
    zh: "没有货架仓库 $1",
    sample: "no shelf warehouse MD",
  },
  {
    pattern: /^no stock warehouse (.+)$/,
    zh: "没有库房仓库 $1",
    sample: "no stock warehouse HC",
  },
  {
    pattern: /^no refill quantity: set the goods' shelf capacity or refillTarget$/,
    zh: "不知道补多少：请设置商品的货架容量或 refillTarget",
    sample: "no refill quantity: set the goods' shelf capacity or refillTarget",
  },
  {
    pattern: /^the shelf holds (\S+), its target is (\S+)$/,
    zh: "货架已有 $1，目标为 $2",
    sample: "the shelf holds 12.000, its target is 10",
  },
  {
    pattern: /^no stock in the stock room (.+)$/,
    zh: "库房 $1 没有库存",
    sample: "no stock in the stock room HC",
  },
  {
    pattern: /^the job is no longer open$/,
    zh: "任务已结束",
    sample: "the job is no longer open",
  },
  // The admin server's database check (src/deadline.ts).
  {
    pattern: /^database check timed out after (\S+) s$/,
    zh: "数据库检查 $1 秒内无应答",
    sample: "database check timed out after 2 s",
  },
  // Odoo (src/upstream/odoo/jsonrpc.ts); Odoo's own error texts are shown as they came.
  {
    pattern: /^Odoo at (\S+) did not answer within (\S+) s$/,
    zh: "Odoo（$1）$2 秒内无应答",
    sample: "Odoo at http://erp.example.com did not answer within 10 s",
  },
  {
    pattern: /^Odoo unreachable at (\S+): (.*)$/s,
    zh: "无法连接 Odoo（$1）：$2",
    nested: [2],
    sample: "Odoo unreachable at http://erp.example.com: Connection refused (os error 111)",
  },
  {
    pattern: /^Odoo connection dropped at (\S+): (.*)$/s,
    zh: "与 Odoo（$1）的连接中断：$2",
    nested: [2],
    sample: "Odoo connection dropped at http://erp.example.com: closed",
  },
  {
    pattern: /^Odoo at (\S+) answered HTTP (\d+) on \/jsonrpc \(is this an Odoo server URL\?\)$/,
    zh: "Odoo（$1）在 /jsonrpc 返回 HTTP $2（请确认这是 Odoo 服务器地址）",
    sample:
      "Odoo at http://erp.example.com answered HTTP 404 on /jsonrpc (is this an Odoo server URL?)",
  },
  {
    pattern: /^Odoo at (\S+) answered HTTP (\d+) on \/jsonrpc$/,
    zh: "Odoo（$1）在 /jsonrpc 返回 HTTP $2",
    sample: "Odoo at http://erp.example.com answered HTTP 502 on /jsonrpc",
  },
  {
    pattern: /^Odoo at (\S+) did not answer JSON-RPC \(is this an Odoo server URL\?\)$/,
    zh: "Odoo（$1）的回答不是 JSON-RPC（请确认这是 Odoo 服务器地址）",
    sample: "Odoo at http://erp.example.com did not answer JSON-RPC (is this an Odoo server URL?)",
  },
  // Answers of the admin API to the console's own forms and buttons (src/admin/api.ts).
  {
    pattern: /^unknown goods: barcode (.+)$/,
    zh: "没有条码为 $1 的商品",
    sample: "unknown goods: barcode 0000000000000",
  },
  {
    pattern: /^the label MAC must be 1\.\.64 characters$/,
    zh: "价签 MAC 须为 1 到 64 个字符",
    sample: "the label MAC must be 1..64 characters",
  },
  {
    pattern: /^barcode must be a text of 1\.\.64 characters.*$/s,
    zh: "条码须为 1 到 64 个字符",
    sample: 'barcode must be a text of 1..64 characters, e.g. {"barcode": "6901234567892"}',
  },
  {
    pattern: /^device must be a device ID such as (\S+)$/,
    zh: "基站须为设备 ID，如 $1",
    sample: "device must be a device ID such as DZBQ_0001",
  },
  {
    pattern: /^minutes must be a whole number.*$/s,
    zh: "分钟数须为不小于 0 的整数",
    sample: 'minutes must be a whole number, e.g. {"minutes": 30}',
  },
  {
    pattern: /^minutes must be at most (\d+)$/,
    zh: "分钟数不能超过 $1",
    sample: "minutes must be at most 1440",
  },
  {
    pattern: /^outbox row (\d+) does not exist or is already delivered$/,
    zh: "Odoo 同步任务 $1 不存在或已送达",
    sample: "outbox row 7 does not exist or is already delivered",
  },
  {
    pattern: /^not a device ID: (\S+).*$/s,
    zh: "不是设备 ID：$1",
    sample: "not a device ID: X (use TYPE_ID, e.g. DZBQ_0001)",
  },
  {
    pattern: /^the body must be (?:JSON|a JSON object)$/,
    zh: "请求内容须为 JSON 对象",
    sample: "the body must be a JSON object",
  },
];

/** The reason entries' samples (tests word every one). */
export const REASON_SAMPLES: readonly string[] = REASONS.map((r) => r.sample);

/** A reason table as the matcher (and the page's script) reads it: source, words, nested groups. */
export type ReasonTable = [source: string, flags: string, words: string, nested: number[]][];

/** The reason table of a language (also given to the page's script, for the API's answers). */
export function reasonTable(lang: Lang): ReasonTable {
  return REASONS.map((r) => [
    r.pattern.source,
    r.pattern.flags,
    lang === "zh" ? r.zh : r.en ?? "$0",
    r.nested ?? [],
  ]);
}

/**
 * Words a stored English text with a reason table, or null when no entry matches. Self-contained
 * on purpose: the console's script embeds this very function (`wordReason.toString()`), so the
 * page words the API's answers by the same rules as the server words the stored ones.
 */
export function wordReason(table: ReasonTable, text: string): string | null {
  for (const [source, flags, template, nested] of table) {
    const match = new RegExp(source, flags).exec(text);
    if (!match) continue;
    return template.replace(/\$(\d)/g, (_slot, digit) => {
      const group = Number(digit);
      const part = match[group] ?? "";
      return nested.includes(group) ? (wordReason(table, part) ?? part) : part;
    });
  }
  return null;
}

/** A stored reason in words: `known` false when it is a peer's own text, shown as it came. */
export function reasonWords(lang: Lang, text: string): { text: string; known: boolean } {
  const worded = wordReason(reasonTable(lang), text);
  return worded === null ? { text, known: false } : { text: worded, known: true };
}

type AlertParams = Alert["params"];

/** The Chinese alert texts (the English ones are the alerts' own `message`, alerts.ts). */
const ALERTS_ZH: Record<AlertRule, (p: AlertParams) => string> = {
  database_down: () => "数据库不可用",
  broker_down: (p) =>
    `MQTT 消息服务不可用（已合并 ${p.devices} 条设备告警和 ${p.labels} 个价签告警）`,
  all_devices_offline: (p) => `全部 ${p.devices} 台设备离线（门店网络？）`,
  base_station_offline: (p) => `价签基站 ${p.equipId} 离线：${p.labels} 个价签无法更新`,
  device_offline: (p) => `设备 ${p.equipId} 离线`,
  payment_unreachable: (p) => `支付服务器 ${p.minutes} 分钟无法连接`,
  odoo_unreachable: (p) => `Odoo ${p.minutes} 分钟无法连接`,
  outbox_growing: (p) =>
    `${p.depth} 条${p.upstream === "payment" ? "支付请求" : "Odoo 同步"}积压未送达`,
  labels_stale: (p) => `${p.labels} 个价签超过 ${p.minutes} 分钟未同步`,
  stock_negative: (p) => `${p.name}（${p.goodsId}）货架库存为 ${p.quantity}`,
  disk_full: (p) =>
    `磁盘已满${p.freeMb !== "" ? `（剩余 ${p.freeMb} MB）` : ""}：${
      diskName(p)
    }；订单、入库和付款暂停记录，请释放空间`,
  disk_low: (p) =>
    `磁盘空间不足：${
      diskName(p)
    } 剩余 ${p.freeMb} MB（共 ${p.totalMb} MB，低于 ${p.warnMb} MB 时提醒）`,
  clock_step: (p) =>
    p.state === "behind"
      ? `本机时钟（${p.machineTime}）早于门店最后的记录：设备时间从 ${p.applianceTime} 起算，直到时钟校准（请检查 NTP）`
      : `本机时钟跳变（比设备时间${
        p.direction === "ahead" ? "快" : "慢"
      } ${p.offset}）：设备继续使用自己的时间（${p.applianceTime}）；请检查 NTP，然后重启 newretail 以接受本机时钟`,
};

// alerts.ts names the disk "database" when its path is not known yet.
function diskName(p: AlertParams): string {
  return p.path === "database" ? "数据库所在磁盘" : String(p.path);
}

/** The rules the console words (every rule: the table's type asks for each). */
export const WORDED_ALERT_RULES = Object.keys(ALERTS_ZH) as AlertRule[];

/**
 * An alert in words, and the stored reason that goes with it (`detail`, worded by the caller
 * with {@link reasonWords}; empty when none, or already part of the English message).
 */
export function alertWords(lang: Lang, a: Alert): { text: string; detail: string } {
  if (lang === "en") return { text: a.message, detail: "" };
  const detail = typeof a.params.detail === "string" ? a.params.detail : "";
  return { text: ALERTS_ZH[a.rule](a.params), detail };
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
