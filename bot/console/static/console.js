// The agent console. Everything users, agents or the knowledge base wrote is put on the
// page with textContent (never innerHTML), and the page runs under a CSP without inline
// script. State changes are POSTs carrying the session's CSRF token; the live feed is a
// WebSocket pushing snapshots and transcripts.
"use strict";

(() => {
  const base = new URL(".", location.href);
  const $ = (id) => document.getElementById(id);
  const WHO = { user: "用户", bot: "机器人", agent: "客服", system: "系统", note: "转交说明" };
  const DECISIONS = {
    answer: "已回答", clarify: "澄清", handoff: "转人工", fallback: "未能回答",
    smalltalk: "闲聊", out_of_scope: "超出范围",
  };
  const STATUS = { online: "在线", away: "离开", offline: "离线" };

  let me = null;          // {login, name, role, csrf, ...}
  let snap = null;        // the latest snapshot
  let snapAt = 0;         // client time when it arrived (wait times keep counting)
  let current = null;     // {kind: "conv" | "ticket", id}
  let socket = null;
  let retryDelay = 500;
  let noticeTimer = null;

  // -- small helpers --------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function option(value, label) {
    const node = el("option", "", label);
    node.value = value;
    return node;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + "秒";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "分" + String(s % 60).padStart(2, "0") + "秒";
    return Math.floor(m / 60) + "小时" + (m % 60) + "分";
  }

  function clock(at) {
    const d = new Date(at * 1000);
    const hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    if (d.toDateString() === new Date().toDateString()) return hm;
    return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
  }

  function notice(text, level) {
    $("notice-text").textContent = text;
    $("notice").className = "notice " + (level || "info");
    $("notice").hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { $("notice").hidden = true; }, 8000);
  }

  function toLogin() {
    location.assign(new URL("login", base).href);
  }

  async function api(method, path, body) {
    const headers = { "X-CSRF-Token": me ? me.csrf : "" };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(new URL(path, base), init);
    } catch (err) {
      notice("网络不可用，请检查网络后再试。", "error");
      return null;
    }
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = {};
    }
    if (response.status === 401) {
      toLogin();
      return null;
    }
    if (!response.ok) {
      notice(data.error || "操作未能完成，请稍后再试。", response.status >= 500 ? "error" : "warn");
      refresh();
      return null;
    }
    return data;
  }

  function refresh() {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "refresh" }));
  }

  function isMine(conv) {
    return conv.state === "assigned" && conv.agent === me.login;
  }

  function findConversation(id) {
    if (!snap) return null;
    return snap.conversations.find((c) => c.conv_id === id) || snap.queue.find((c) => c.conv_id === id) || null;
  }

  // -- the lists ------------------------------------------------------------------------

  function renderQueue() {
    const list = $("queue");
    list.replaceChildren();
    for (const item of snap.queue) {
      const li = el("li", "item" + (current && current.id === item.conv_id ? " selected" : ""));
      li.dataset.convId = item.conv_id;
      const head = el("div", "row");
      head.append(el("span", "pos", "#" + item.position), el("span", "user", item.user));
      const badge = el("span", "badge reason-" + item.reason, item.reason_label);
      head.append(badge, el("span", "badge team", item.team_name));
      const wait = el("span", "wait", "已等待 " + duration(item.waited));
      wait.dataset.waited = String(item.waited);
      const summary = el("div", "summary", item.summary);
      const claim = el("button", "claim", "接入");
      claim.type = "button";
      claim.addEventListener("click", (event) => {
        event.stopPropagation();
        claimConversation(item.conv_id);
      });
      const foot = el("div", "row");
      foot.append(wait, claim);
      li.append(head, summary, foot);
      li.addEventListener("click", () => openConversation(item.conv_id));
      list.append(li);
    }
    $("queue-count").textContent = String(snap.queue.length);
    $("queue-empty").hidden = snap.queue.length > 0;
  }

  function renderConversations() {
    const list = $("conversations");
    list.replaceChildren();
    const supervisor = me.role === "supervisor";
    $("conversations-title").textContent = supervisor ? "全部接待中的会话" : "我的会话";
    for (const conv of snap.conversations) {
      const li = el("li", "item" + (isMine(conv) ? " mine" : "") +
        (current && current.id === conv.conv_id ? " selected" : ""));
      li.dataset.convId = conv.conv_id;
      const head = el("div", "row");
      head.append(el("span", "user", conv.user), el("span", "badge reason-" + conv.reason, conv.reason_label));
      li.append(head);
      if (supervisor) li.append(el("div", "agent", "接待：" + (conv.agent_name || conv.agent)));
      li.append(el("div", "summary", conv.summary));
      li.addEventListener("click", () => openConversation(conv.conv_id));
      list.append(li);
    }
    $("conversations-count").textContent = String(snap.conversations.length);
    $("conversations-empty").hidden = snap.conversations.length > 0;
  }

  function renderAgents() {
    const section = $("agents-section");
    section.hidden = !snap.agents;
    if (!snap.agents) return;
    const list = $("agents");
    list.replaceChildren();
    for (const agent of snap.agents) {
      const li = el("li", "item agent-" + agent.status);
      li.dataset.agentId = agent.agent_id;
      li.append(el("span", "dot"), el("span", "name", agent.name),
        el("span", "status", STATUS[agent.status] || agent.status),
        el("span", "load", agent.load + "/" + agent.capacity));
      list.append(li);
    }
  }

  function renderTickets() {
    const list = $("tickets");
    list.replaceChildren();
    for (const ticket of snap.tickets) {
      const li = el("li", "item" + (ticket.overdue ? " overdue" : "") +
        (current && current.id === ticket.ticket_id ? " selected" : ""));
      li.dataset.ticketId = ticket.ticket_id;
      const head = el("div", "row");
      head.append(el("span", "user", "留言 " + ticket.ticket_id), el("span", "badge team", ticket.team_name),
        el("span", "due", "应答期限 " + clock(ticket.due_at)));
      if (ticket.overdue) head.append(el("span", "badge overdue-flag", "已超期"));
      li.append(head, el("div", "summary", ticket.message));
      li.addEventListener("click", () => openTicket(ticket.ticket_id));
      list.append(li);
    }
    $("tickets-count").textContent = String(snap.tickets.length);
    $("tickets-empty").hidden = snap.tickets.length > 0;
  }

  let lastStatus = null;
  let chosenStatus = null;

  function renderPresence() {
    const select = $("presence");
    const status = snap.me.status;
    if (document.activeElement !== select) select.value = status;
    select.className = "status-" + status;
    // the desk takes a silent console offline (its conversations go back to the queue)
    if (lastStatus && lastStatus !== "offline" && status === "offline" && chosenStatus !== "offline") {
      notice("连接中断期间，系统已将您设为离线，您接待的会话已回到队列。如需继续接待，请将状态切换为在线。", "warn");
    }
    lastStatus = status;
  }

  function renderTransferTargets() {
    const select = $("transfer-to");
    const chosen = select.value;
    select.replaceChildren(option("", "请选择同事"));
    for (const c of snap.colleagues) {
      const label = c.name + "（" + (STATUS[c.status] || c.status) + "）";
      const node = option(c.agent_id, label);
      node.disabled = c.status === "offline";
      select.append(node);
    }
    select.value = chosen;
  }

  function renderTeams() {
    $("me-teams").textContent = snap.me.teams && snap.me.teams.length ? "团队：" + snap.me.teams.join("、") : "";
    for (const id of ["team-to", "ticket-team-to"]) {
      const select = $(id);
      const chosen = select.value;
      select.replaceChildren(option("", "请选择团队"), ...snap.teams.map((t) => option(t.team_id, t.name)));
      select.value = chosen;
    }
    // escalation: the overdue left messages of the teams this viewer supervises
    const overdue = snap.overdue || [];
    $("overdue").hidden = overdue.length === 0;
    $("overdue-text").textContent = overdue.length
      ? "有 " + overdue.length + " 条留言已超过答复期限，请尽快安排处理：" +
        overdue.map((t) => t.team_name + " 留言 " + t.ticket_id).join("、")
      : "";
  }

  function onSnapshot(data) {
    snap = data;
    snapAt = Date.now() / 1000;
    renderPresence();
    renderQueue();
    renderConversations();
    renderAgents();
    renderTickets();
    renderTransferTargets();
    renderTeams();
    if (current && current.kind === "conv") updateConversationHead();
    if (current && current.kind === "ticket" && !snap.tickets.some((t) => t.ticket_id === current.id)) {
      closePane();
    }
  }

  function tickWaits() {
    const elapsed = Date.now() / 1000 - snapAt;
    for (const node of document.querySelectorAll("#queue .wait")) {
      node.textContent = "已等待 " + duration(Number(node.dataset.waited) + elapsed);
    }
  }

  // -- the conversation pane ------------------------------------------------------------

  function closePane() {
    current = null;
    $("conversation").hidden = true;
    $("ticket").hidden = true;
    $("placeholder").hidden = false;
  }

  function openConversation(convId) {
    current = { kind: "conv", id: convId };
    $("placeholder").hidden = true;
    $("ticket").hidden = true;
    $("conversation").hidden = false;
    $("transcript").replaceChildren(el("li", "loading", "正在载入对话记录…"));
    updateConversationHead();
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "transcript", conv_id: convId }));
    } else {
      api("GET", "api/conversations/" + encodeURIComponent(convId) + "/transcript").then((data) => {
        if (data) onTranscript(data);
      });
    }
    if (snap) {
      renderQueue();
      renderConversations();
    }
  }

  function updateConversationHead(conv) {
    conv = conv || findConversation(current.id);
    if (!conv) return;
    $("conv-title").textContent = conv.user + " · " + conv.reason_label + " · " + conv.team_name;
    const parts = [];
    if (conv.state === "waiting") parts.push("等待中");
    if (conv.state === "assigned") parts.push("接待客服：" + (conv.agent_name || conv.agent));
    if (conv.state === "closed") parts.push("已结束");
    parts.push("进入队列 " + clock(conv.enqueued_at));
    if (conv.transfers) parts.push("转接 " + conv.transfers + " 次");
    $("conv-meta").textContent = parts.join(" · ");
    const mine = isMine(conv);
    const supervisor = me.role === "supervisor";
    $("claim-current").hidden = conv.state !== "waiting";
    $("reply-area").hidden = !mine;
    $("actions").hidden = !(mine || (supervisor && conv.state === "assigned"));
    $("hand-back").hidden = !mine;
    document.querySelector(".close-group").hidden = !mine;
  }

  function onTranscript(data) {
    if (!current || current.kind !== "conv" || current.id !== data.conversation.conv_id) return;
    updateConversationHead(data.conversation);
    const list = $("transcript");
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    if (!data.lines.length) list.append(el("li", "empty", "暂无对话记录"));
    for (const line of data.lines) {
      const li = el("li", "line " + line.who);
      const head = el("div", "head");
      const who = line.who === "agent" && line.agent_name ? line.agent_name : (WHO[line.who] || line.who);
      head.append(el("span", "who", who), el("span", "time", clock(line.at)));
      li.append(head, el("div", "text", line.text));
      if (line.who === "user" && line.text) {
        // the question, answered here, can become a knowledge entry (reviewed by a supervisor)
        const draft = el("a", "draft-link", "起草知识条目");
        draft.href = "knowledge#" + new URLSearchParams({ q: line.text.slice(0, 120) });
        draft.target = "_blank";
        draft.rel = "noopener";
        head.append(draft);
      }
      if (line.who === "note" && line.decision) li.append(el("div", "entry", line.decision));
      if (line.who === "bot" && (line.entry_id || line.decision)) {
        const bits = [];
        if (line.decision) bits.push(DECISIONS[line.decision] || line.decision);
        if (line.entry_id) bits.push("知识条目 " + line.entry_id);
        if (line.confidence !== null && line.confidence !== undefined) {
          bits.push("置信度 " + Number(line.confidence).toFixed(2));
        }
        li.append(el("div", "entry", bits.join(" · ")));
      }
      list.append(li);
    }
    if (nearBottom || list.dataset.conv !== data.conversation.conv_id) list.scrollTop = list.scrollHeight;
    list.dataset.conv = data.conversation.conv_id;
  }

  async function claimConversation(convId) {
    const data = await api("POST", "api/conversations/" + encodeURIComponent(convId) + "/claim", {});
    if (!data) return;
    notice("已接入会话，请及时回复用户。", "info");
    openConversation(convId);
  }

  async function sendReply() {
    const box = $("reply-text");
    const text = box.value.trim();
    if (!text || !current) return;
    $("reply-send").disabled = true;
    const data = await api("POST", "api/conversations/" + encodeURIComponent(current.id) + "/reply", { text });
    $("reply-send").disabled = false;
    if (data) {
      box.value = "";
      box.focus();
    }
  }

  async function transfer() {
    const to = $("transfer-to").value;
    if (!to) {
      notice("请先选择要转接的同事。", "warn");
      return;
    }
    const data = await api("POST", "api/conversations/" + encodeURIComponent(current.id) + "/transfer", { to });
    if (data) notice("已转接给 " + (data.conversation.agent_name || to) + "。", "info");
  }

  async function transferTeam() {
    const team = $("team-to").value;
    const note = $("team-note").value.trim();
    if (!team || !note) {
      notice("请选择要转交的团队，并填写转交说明。", "warn");
      return;
    }
    const path = "api/conversations/" + encodeURIComponent(current.id) + "/transfer-team";
    const data = await api("POST", path, { team, note });
    if (!data) return;
    $("team-note").value = "";
    notice("已转交给“" + data.conversation.team_name + "”团队，转交说明已随对话记录一起转交。", "info");
    closePane();
  }

  async function handBack() {
    const data = await api("POST", "api/conversations/" + encodeURIComponent(current.id) + "/hand-back", {});
    if (!data) return;
    notice("已将用户交还给机器人。", "info");
    closePane();
  }

  async function closeConversation() {
    const body = {
      outcome: $("close-outcome").value,
      category: $("close-category").value || null,
      grade: $("close-grade").value || null,
    };
    const data = await api("POST", "api/conversations/" + encodeURIComponent(current.id) + "/close", body);
    if (!data) return;
    notice("会话已结束，已邀请用户评价本次服务。", "info");
    closePane();
  }

  // -- tickets --------------------------------------------------------------------------

  function openTicket(ticketId) {
    const ticket = snap && snap.tickets.find((t) => t.ticket_id === ticketId);
    if (!ticket) return;
    current = { kind: "ticket", id: ticketId };
    $("placeholder").hidden = true;
    $("conversation").hidden = true;
    $("ticket").hidden = false;
    $("ticket-title").textContent = "留言 " + ticket.ticket_id + " · " + ticket.user;
    $("ticket-meta").textContent = "留言时间 " + clock(ticket.created_at) + " · 应答期限 " + clock(ticket.due_at) +
      (ticket.overdue ? " · 已超期" : "");
    $("ticket-meta").classList.toggle("overdue", ticket.overdue);
    $("ticket-message").textContent = ticket.message;
    $("ticket-title").textContent += " · " + ticket.team_name;
    const context = $("ticket-context");
    context.replaceChildren(...ticket.context.map((line) => {
      const li = el("li", "line " + line.who);
      const head = el("div", "head");
      head.append(el("span", "who", WHO[line.who] || line.who), el("span", "time", clock(line.at)));
      li.append(head, el("div", "text", line.text));
      return li;
    }));
    $("ticket-context-box").hidden = ticket.context.length === 0;
    $("ticket-notes").replaceChildren(...ticket.notes.map((n) =>
      el("li", "item note", n.from + " → " + n.to + "（" + n.by + "）：" + n.note)));
    renderTickets();
  }

  async function transferTicket() {
    const team = $("ticket-team-to").value;
    const note = $("ticket-team-note").value.trim();
    if (!team || !note) {
      notice("请选择要转交的团队，并填写转交说明。", "warn");
      return;
    }
    const data = await api("POST", "api/tickets/" + encodeURIComponent(current.id) + "/transfer", { team, note });
    if (!data) return;
    $("ticket-team-note").value = "";
    notice("留言已转交给“" + data.ticket.team_name + "”团队。", "info");
    closePane();
  }

  async function answerTicket() {
    const box = $("ticket-answer");
    const text = box.value.trim();
    if (!text || !current || current.kind !== "ticket") return;
    const resolution = $("ticket-resolution").value || "resolved";
    const data = await api("POST", "api/tickets/" + encodeURIComponent(current.id) + "/answer", { text, resolution });
    if (!data) return;
    box.value = "";
    notice("答复已发送给用户。", "info");
    closePane();
  }

  // -- canned replies -------------------------------------------------------------------

  let cannedTimer = null;
  let cannedSeq = 0;

  async function searchCanned() {
    const q = $("canned-q").value.trim();
    const seq = ++cannedSeq;
    const list = $("canned-results");
    if (!q) {
      list.replaceChildren();
      $("canned-empty").hidden = true;
      return;
    }
    const data = await api("GET", "api/canned?q=" + encodeURIComponent(q));
    if (!data || seq !== cannedSeq) return;
    list.replaceChildren();
    for (const item of data.results) {
      const li = el("li", "item");
      li.dataset.entryId = item.id;
      li.append(el("div", "question", item.question), el("div", "category", item.category + " · " + item.id));
      const text = el("div", "answer", item.text);
      const use = el("button", "insert", "插入回复框");
      use.type = "button";
      use.addEventListener("click", () => insertCanned(item.text));
      li.append(text, use);
      list.append(li);
    }
    $("canned-empty").hidden = data.results.length > 0;
  }

  function insertCanned(text) {
    const box = current && current.kind === "ticket" ? $("ticket-answer") : $("reply-text");
    if (box.closest("[hidden]")) {
      notice("请先接入一段会话或打开一条留言，再插入答复。", "warn");
      return;
    }
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
  }

  // -- presence and the live feed -------------------------------------------------------

  async function setPresence() {
    const status = $("presence").value;
    chosenStatus = status;
    const data = await api("POST", "api/presence", { status });
    if (!data) return;
    const label = STATUS[status] || status;
    const released = data.released && data.released.length ? "，" + data.released.length + " 段会话已回到队列" : "";
    notice("状态已切换为“" + label + "”" + released + "。", "info");
    refresh();
  }

  function onMessage(data) {
    switch (data.type) {
      case "snapshot":
        onSnapshot(data);
        break;
      case "transcript":
        onTranscript(data);
        break;
      case "transcript_error":
        if (current && current.id === data.conv_id) {
          notice(data.error, "warn");
          closePane();
        }
        break;
      case "notice":
        notice(data.text, data.level || "info");
        break;
      case "logout":
        toLogin();
        break;
      default:
        break;
    }
  }

  function connect() {
    const url = new URL("ws", base);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(url.href);
    socket.addEventListener("open", () => {
      retryDelay = 500;
      $("link").textContent = "已连接";
      $("link").className = "link ok";
      if (current && current.kind === "conv") {
        socket.send(JSON.stringify({ type: "transcript", conv_id: current.id }));
      }
    });
    socket.addEventListener("message", (msg) => {
      let data;
      try {
        data = JSON.parse(msg.data);
      } catch (err) {
        return;
      }
      onMessage(data);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      if (event.code === 4401) {
        toLogin();
        return;
      }
      $("link").textContent = "连接已断开，正在重连…";
      $("link").className = "link down";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
  }

  async function logout() {
    await api("POST", "logout", {});
    toLogin();
  }

  // -- start ----------------------------------------------------------------------------

  async function start() {
    let response;
    try {
      response = await fetch(new URL("api/me", base), { credentials: "same-origin" });
    } catch (err) {
      notice("网络不可用，请检查网络后刷新页面。", "error");
      return;
    }
    if (response.status === 401) {
      toLogin();
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      notice(data.error || "工作台暂时无法使用，请稍后刷新页面。", "error");
      return;
    }
    me = data;
    $("me-name").textContent = me.name;
    $("me-role").textContent = me.role === "supervisor" ? "主管" : "客服";
    $("report-link").hidden = me.role !== "supervisor";
    const presence = $("presence");
    presence.replaceChildren(...me.presences.map((p) => option(p.value, p.label)));
    $("close-outcome").replaceChildren(...me.outcomes.map((o) => option(o.value, o.label)));
    $("ticket-resolution").replaceChildren(...me.resolutions.map((r) => option(r.value, r.label)));
    $("close-category").replaceChildren(option("", "（不选）"), ...me.categories.map((c) => option(c, c)));
    $("close-grade").replaceChildren(option("", "非投诉"),
      ...me.grades.map((g) => option(g.value, g.value + " " + g.label)));
    connect();
  }

  $("presence").addEventListener("change", setPresence);
  $("logout").addEventListener("click", logout);
  $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
  $("claim-current").addEventListener("click", () => current && claimConversation(current.id));
  $("reply-send").addEventListener("click", sendReply);
  $("reply-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.isComposing) {
      e.preventDefault();
      sendReply();
    }
  });
  $("transfer").addEventListener("click", transfer);
  $("hand-back").addEventListener("click", handBack);
  $("close").addEventListener("click", closeConversation);
  $("ticket-send").addEventListener("click", answerTicket);
  $("team-transfer").addEventListener("click", transferTeam);
  $("ticket-transfer").addEventListener("click", transferTicket);
  $("canned-q").addEventListener("input", () => {
    clearTimeout(cannedTimer);
    cannedTimer = setTimeout(searchCanned, 250);
  });
  setInterval(tickWaits, 1000);
  start();
})();
