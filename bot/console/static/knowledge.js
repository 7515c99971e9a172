// Knowledge upkeep: supervisors see the report's knowledge gaps with their conversations,
// agents draft entries (question, answer, a dated source), supervisors publish them or send
// them back with a note, and withdraw published ones. Everything from the records and the
// forms goes on the page with textContent; the page runs under the console's CSP.
"use strict";

(() => {
  const base = new URL(".", location.href);
  const $ = (id) => document.getElementById(id);
  const CHINA = 8 * 3600 * 1000;
  const WHO = { user: "用户", bot: "机器人", agent: "客服", system: "系统" };
  const ACTIONS = { create: "起草", edit: "修改", publish: "发布", return: "退回", withdraw: "撤回" };
  const STATES = { serving: "服务中", building: "正在重建索引", failed: "重建失败，仍使用旧索引" };
  let me = null;
  let current = null; // the entry shown in the detail panel

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

  function chinaTime(at) {
    if (!at) return "";
    const iso = new Date(Date.parse(at) + CHINA).toISOString();
    return iso.slice(0, 10) + " " + iso.slice(11, 16);
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
      location.assign(new URL("login", base).href);
      return null;
    }
    if (!response.ok) {
      notice(data.error || "抱歉，处理时出现问题，请稍后再试。", "error");
      return null;
    }
    return data;
  }

  // -- status and gaps (supervisors) --------------------------------------------------------

  async function loadStatus() {
    const data = await api("GET", "api/knowledge/status");
    if (!data) return;
    $("version").textContent = "已发布版本 " + data.version;
    const list = $("servers");
    list.replaceChildren();
    if (!data.servers.length) list.append(el("li", "meta", "暂无动作服务器上报状态。"));
    for (const s of data.servers) {
      const li = el("li", "server " + s.state);
      li.dataset.state = s.state;
      li.append(el("strong", null, s.server + "："), el("span", "state", STATES[s.state] || s.state),
        el("span", "meta", "（提供版本 " + s.version + "，" + s.entries + " 条" +
          (s.seconds !== null ? "，上次重建 " + s.seconds + " 秒" : "") + "，" + chinaTime(s.updated_at) + "）"));
      if (s.message) li.append(el("div", "why", s.message));
      list.append(li);
    }
  }

  async function loadGaps(event) {
    if (event) event.preventDefault();
    const query = new URLSearchParams();
    if ($("from").value) query.set("from", $("from").value);
    if ($("to").value) query.set("to", $("to").value);
    const data = await api("GET", "api/knowledge/gaps?" + query);
    if (!data) return;
    const list = $("gaps");
    list.replaceChildren();
    if (!data.gaps.length) list.append(el("li", "meta", "这段时间没有知识缺口。"));
    for (const g of data.gaps) {
      const li = el("li", "gap");
      li.append(el("span", "question", g.question),
        el("span", "meta", " 共 " + g.count + " 次：未能回答 " + g.unanswered + "，追问 " + g.clarified +
          "，没用 " + g.unhelpful + " "));
      const view = el("button", "view", "查看对话");
      view.type = "button";
      view.addEventListener("click", () => showConversation(g.enquiries[0]));
      const draft = el("button", "draft", "起草条目");
      draft.type = "button";
      draft.addEventListener("click", () => startDraft(g.question, g.enquiries[0]));
      li.append(view, draft);
      list.append(li);
    }
  }

  async function showConversation(id) {
    if (!id) return;
    const data = await api("GET", "api/knowledge/enquiries/" + encodeURIComponent(id));
    if (!data) return;
    $("conversation-meta").textContent = "咨询 #" + data.id + "，" + chinaTime(data.started_at);
    const lines = $("conversation-lines");
    lines.replaceChildren();
    for (const line of data.lines) {
      const li = el("li", "line " + line.who);
      li.append(el("span", "who", WHO[line.who] || line.who), el("span", "text", line.text));
      if (line.entry_id) li.append(el("span", "entry meta", "知识条目 " + line.entry_id));
      lines.append(li);
    }
    $("conversation").hidden = false;
  }

  // -- the draft form -------------------------------------------------------------------------

  function resetForm() {
    $("draft-form").reset();
    for (const id of ["f-id", "f-revision", "f-origin", "f-enquiry"]) $(id).value = "";
    $("form-title").textContent = "起草知识条目";
    $("f-submit").textContent = "提交审核";
  }

  function startDraft(question, enquiry) {
    resetForm();
    $("f-question").value = question || "";
    $("f-alternatives").value = question || "";
    $("f-origin").value = question || "";
    $("f-enquiry").value = enquiry ? String(enquiry) : "";
    $("f-answer").focus();
  }

  function formBody() {
    const body = {
      category: $("f-category").value, question: $("f-question").value,
      alternatives: $("f-alternatives").value.split("\n"), answer: $("f-answer").value,
      source_title: $("f-title").value, source_article: $("f-article").value, source_date: $("f-date").value,
    };
    if ($("f-origin").value) body.origin_question = $("f-origin").value;
    if ($("f-enquiry").value) body.origin_enquiry = Number($("f-enquiry").value);
    if ($("f-revision").value) body.revision = Number($("f-revision").value);
    return body;
  }

  async function submitDraft(event) {
    event.preventDefault();
    const id = $("f-id").value;
    const data = await api("POST", id ? "api/knowledge/entries/" + id : "api/knowledge/entries", formBody());
    if (!data) return;
    notice(id ? "条目已修改并重新提交审核。" : "条目已提交，等待主管审核。", "info");
    resetForm();
    await loadEntries();
    await showEntry(data.entry.id);
  }

  // -- entries ----------------------------------------------------------------------------------

  async function loadEntries() {
    const status = $("filter").value;
    const data = await api("GET", "api/knowledge/entries" + (status ? "?status=" + status : ""));
    if (!data) return;
    const list = $("entries");
    list.replaceChildren();
    if (!data.entries.length) list.append(el("li", "meta", "暂无条目。"));
    for (const e of data.entries) {
      const li = el("li", "entry " + e.status);
      li.dataset.id = String(e.id);
      li.dataset.status = e.status;
      li.append(el("span", "badge", e.status_label), el("span", "question", e.question),
        el("span", "meta", " " + e.entry_id + " · " + e.author + " · " + chinaTime(e.updated_at)));
      li.addEventListener("click", () => showEntry(e.id));
      list.append(li);
    }
  }

  async function showEntry(id) {
    const data = await api("GET", "api/knowledge/entries/" + id);
    if (!data) return;
    const e = data.entry;
    current = e;
    $("detail").dataset.id = String(e.id);
    $("d-question").textContent = e.question;
    $("d-status").textContent = e.status_label;
    $("d-status").dataset.status = e.status;
    $("d-meta").textContent = e.entry_id + " · " + e.category + " · 起草：" + e.author +
      (e.reviewer ? " · 审核：" + e.reviewer : "");
    $("d-answer").textContent = e.answer;
    $("d-source").textContent = e.source_title + (e.source_article ? " " + e.source_article : "") + "（" + e.source_date + "）";
    $("d-note").textContent = e.review_note ? "主管说明：" + e.review_note : "";
    const supervisor = me && me.role === "supervisor";
    $("d-review").hidden = !(supervisor && e.status === "pending");
    $("d-withdraw").hidden = !(supervisor && e.status === "published");
    $("d-edit").hidden = !((e.status === "pending" || e.status === "returned") && (supervisor || e.author === me.login));
    const history = $("d-history");
    history.replaceChildren();
    for (const h of data.history) {
      const fields = Object.keys(h.changes || {}).join("、");
      history.append(el("li", "history", chinaTime(h.at) + " " + h.actor + " " + (ACTIONS[h.action] || h.action) +
        (fields ? "（" + fields + "）" : "") + (h.note ? "：" + h.note : "")));
    }
    $("detail").hidden = false;
  }

  function editCurrent() {
    if (!current) return;
    resetForm();
    $("f-id").value = String(current.id);
    $("f-revision").value = String(current.revision);
    $("f-category").value = current.category;
    $("f-question").value = current.question;
    $("f-alternatives").value = current.alternatives.join("\n");
    $("f-answer").value = current.answer;
    $("f-title").value = current.source_title;
    $("f-article").value = current.source_article || "";
    $("f-date").value = current.source_date;
    $("form-title").textContent = "修改条目 " + current.entry_id;
    $("f-submit").textContent = "保存并重新提交";
  }

  async function review(step, noteField, done) {
    if (!current) return;
    const body = { revision: current.revision };
    if (noteField) body.note = $(noteField).value;
    const data = await api("POST", "api/knowledge/entries/" + current.id + "/" + step, body);
    if (!data) return;
    if (noteField) $(noteField).value = "";
    notice(done, "info");
    await loadEntries();
    await showEntry(current.id);
    if (me.role === "supervisor") await loadStatus();
  }

  // -- start ------------------------------------------------------------------------------------

  async function start() {
    me = await api("GET", "api/me");
    if (!me) return;
    $("me").textContent = me.name + (me.role === "supervisor" ? "（主管）" : "");
    const select = $("f-category");
    for (const c of me.categories) select.append(el("option", null, c));
    $("draft-form").addEventListener("submit", submitDraft);
    $("f-reset").addEventListener("click", resetForm);
    $("filter").addEventListener("change", loadEntries);
    $("edit").addEventListener("click", editCurrent);
    $("publish").addEventListener("click", () => review("publish", null, "已发布，各动作服务器将在后台重建索引后开始使用。"));
    $("return").addEventListener("click", () => review("return", "return-note", "已退回起草人修改。"));
    $("withdraw").addEventListener("click", () => review("withdraw", "withdraw-note", "已撤回，各动作服务器将在后台重建索引后停止使用。"));
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("q")) startDraft(hash.get("q"), Number(hash.get("enquiry")) || null);
    if (me.role === "supervisor") {
      $("status-panel").hidden = false;
      $("gaps-panel").hidden = false;
      $("range").addEventListener("submit", loadGaps);
      await Promise.all([loadStatus(), loadGaps()]);
      setInterval(loadStatus, 5000);
    }
    await loadEntries();
  }

  start();
})();
