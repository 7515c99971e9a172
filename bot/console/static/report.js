// The supervisor's service report: the figures of `patentdesk report` for a period of days
// (China time, both ends included) and its charts. Everything from the records (questions,
// entry ids, logins) is put on the page with textContent; the page runs under the console's
// CSP without inline script, so the form is handled here rather than submitted.
"use strict";

(() => {
  const base = new URL(".", location.href);
  const $ = (id) => document.getElementById(id);
  const CHINA = 8 * 3600 * 1000;
  const CHARTS = [
    ["enquiries_per_day", "每日咨询量"],
    ["satisfaction", "满意度分布"],
    ["handle_time_per_agent", "坐席平均处理时长"],
    ["complaints_by_grade", "投诉等级分布"],
    ["top_entries", "最常用知识条目"],
    ["tickets_per_team", "各团队留言工单"],
  ];
  const RESOLVED = { bot: "机器人", agent: "人工", ticket: "留言", abandoned: "放弃", open: "进行中" };
  const GRADES = { A: "A 轻微", B: "B 一般", C: "C 严重", D: "D 特别严重", ungraded: "未定级" };
  const CHANNELS = { wechat: "微信", web: "网页" };

  // -- small helpers --------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function notice(text, level) {
    $("notice-text").textContent = text;
    $("notice").className = "notice " + (level || "info");
    $("notice").hidden = false;
  }

  function pct(value) {
    return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + "秒";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "分" + String(s % 60).padStart(2, "0") + "秒";
    return Math.floor(m / 60) + "小时" + (m % 60) + "分";
  }

  // an instant (ISO 8601 or milliseconds) as China time: "2025-03-04 20:00", or its day
  function chinaTime(at) {
    const iso = new Date((typeof at === "number" ? at : Date.parse(at)) + CHINA).toISOString();
    return iso.slice(0, 10) + " " + iso.slice(11, 16);
  }

  function chinaDay(at) {
    return chinaTime(at).slice(0, 10);
  }

  function fill(id, rows, columns) {
    const body = $(id);
    body.replaceChildren();
    for (const row of rows) {
      const tr = el("tr");
      for (const cell of row) tr.append(el("td", "", cell));
      body.append(tr);
    }
    if (!rows.length) {
      const td = el("td", "empty", "暂无数据");
      td.colSpan = columns;
      const tr = el("tr");
      tr.append(td);
      body.append(tr);
    }
  }

  function listed(mapping, labels) {
    return Object.entries(mapping).map(([key, n]) => (labels[key] || key) + " " + n).join(" · ");
  }

  // -- the figures ----------------------------------------------------------------------

  function render(r) {
    const e = r.enquiries;
    $("total").textContent = String(e.total);
    const scenes = e.by_scene && Object.keys(e.by_scene).length ? " · 场景 " + listed(e.by_scene, {}) : "";
    $("total-detail").textContent = "已结束 " + e.finished + (e.total ? " · " + listed(e.by_channel, CHANNELS) : "") + scenes;
    $("bot-rate").textContent = pct(r.bot_resolution_rate);
    $("resolved-detail").textContent = listed(r.resolved_by, RESOLVED);
    $("handoff-rate").textContent = pct(r.handoff_rate);
    $("wait-median").textContent = duration(r.wait.median);
    $("wait-p95").textContent = duration(r.wait.p95);
    $("wait-detail").textContent = "等到客服的咨询 " + r.wait.count + " 次";
    $("follow-up").textContent = String(r.satisfaction.follow_up);
    $("complaints-total").textContent = String(r.complaints.total);
    $("overdue-count").textContent = String(r.overdue_tickets.overdue);
    $("overdue-detail").textContent = "留言共 " + r.overdue_tickets.tickets + " 条";

    fill("per-day", r.per_day.map((d) => [d.day, d.enquiries, d.bot, d.agent, d.ticket, d.abandoned, d.open]), 7);
    fill("teams", r.per_team.map((t) => [t.name, t.wait.count, duration(t.wait.median), duration(t.wait.p95),
      duration(t.handle.median), t.tickets.opened, t.tickets.answered, t.tickets.overdue,
      t.satisfaction.count ? t.satisfaction.average + "（" + t.satisfaction.count + " 条）" : "—"]), 9);
    fill("handle", r.handle_per_agent.map((a) => [a.agent, a.enquiries, duration(a.median), duration(a.mean),
      duration(a.total)]), 5);
    const s = r.satisfaction;
    $("satisfaction-detail").textContent = s.count
      ? "共 " + s.count + " 条评价，平均 " + s.average + " 分（1 分为非常满意）" : "";
    fill("satisfaction", s.distribution.map((d) => [d.rating + " " + d.label, d.count, pct(d.share)]), 3);
    fill("complaints", Object.entries(r.complaints.by_grade).map(([g, n]) => [GRADES[g] || g, n]), 2);
    fill("overdue", r.overdue_tickets.items.map((t) => [t.ticket_id, t.agent || "—", chinaTime(t.due_at),
      t.answered_at ? chinaTime(t.answered_at) : "尚未答复", t.late_hours.toFixed(1) + " 小时"]), 5);
    fill("gaps", r.knowledge_gaps.map((g) => [g.question, g.count, g.unanswered, g.clarified, g.unhelpful]), 5);
    fill("entries", r.top_entries.map((t) => [t.entry_id, t.answers, t.unhelpful]), 3);
  }

  function showCharts(query) {
    const box = $("charts");
    box.replaceChildren();
    for (const [name, caption] of CHARTS) {
      const figure = el("figure", "chart");
      const img = el("img");
      img.alt = caption;
      img.dataset.chart = name;
      img.addEventListener("error", () => img.replaceWith(el("p", "empty", "图表暂时无法生成，请稍后刷新。")));
      img.src = new URL("api/report/chart/" + name + ".png?" + query, base).href;
      figure.append(img, el("figcaption", "", caption));
      box.append(figure);
    }
  }

  // -- loading --------------------------------------------------------------------------

  async function load(from, to) {
    const query = new URLSearchParams();
    if (from) query.set("from", from);
    if (to) query.set("to", to);
    $("show").disabled = true;
    let response;
    try {
      response = await fetch(new URL("api/report?" + query, base), { credentials: "same-origin" });
    } catch (err) {
      notice("网络不可用，请检查网络后再试。", "error");
      return;
    } finally {
      $("show").disabled = false;
    }
    if (response.status === 401) {
      location.assign(new URL("login", base).href);
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      notice(data.error || "报表暂时无法生成，请稍后再试。", response.status >= 500 ? "error" : "warn");
      return;
    }
    $("notice").hidden = true;
    // the period the server settled on (the last 7 days when none was given); `to` is exclusive
    const first = chinaDay(data.period.from);
    const last = chinaDay(Date.parse(data.period.to) - 1);
    $("from").value = first;
    $("to").value = last;
    $("period").textContent = first + " 至 " + last + "（北京时间），生成于 " + chinaTime(data.generated_at);
    const days = new URLSearchParams({ from: first, to: last });
    history.replaceState(null, "", "?" + days);
    render(data);
    showCharts(days);
  }

  $("range").addEventListener("submit", (event) => {
    event.preventDefault();
    load($("from").value, $("to").value);
  });
  const asked = new URLSearchParams(location.search);
  load(asked.get("from"), asked.get("to"));
})();
