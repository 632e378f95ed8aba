// hadir admin: the only script. It keeps the today board live and asks before
// destructive buttons. No framework, no CDN; data goes into the page as text, never HTML.
"use strict";

// The board's words come from the page (data-words, rendered through gettext), so a board
// in Indonesian stays in Indonesian after it refreshes. "{name}" marks a value to fill in.
function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function statusText(words, status) {
  return (words.status && words.status[status]) || status.replace("_", " ");
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function badge(td, cls, text) {
  const span = document.createElement("span");
  span.className = "badge " + cls;
  span.textContent = text;
  td.appendChild(span);
  return span;
}

function linkTo(cls, href, text, title) {
  const a = document.createElement("a");
  a.className = cls;
  a.href = href;
  a.textContent = text;
  if (title) a.title = title;
  return a;
}

// A time the server marks as added by an admin gets the same "*" as the server's table.
function timeCell(tr, words, text, corrected) {
  const td = cell(tr, text);
  if (corrected) {
    const mark = document.createElement("abbr");
    mark.className = "corrected";
    mark.title = words.added_by_admin;
    mark.textContent = "*";
    td.append(" ", mark);
  }
}

function correctionTitle(words, corrections) {
  return corrections
    .map((c) => {
      const what = (words.correction && words.correction[c.action + "_" + c.kind]) || c.action;
      return what + " " + c.at + ": " + c.reason + " (" + c.by + ")";
    })
    .join("\n");
}

// The status cell as _day_table.html writes it: the status, the day off's name, the leave
// and its kind, the corrections (a link to them), the link to correct, needs review.
function statusCell(tr, words, r) {
  const status = cell(tr, "");
  // On leave, the leave's badge says it with the kind ("leave: Sick"): not twice.
  const onLeave = r.status === "leave" && r.leave_code;
  if (!onLeave) badge(status, r.status, statusText(words, r.status));
  if (r.day_off_name) {
    const name = document.createElement("span");
    name.className = "dayoff";
    name.textContent = r.day_off_name;
    status.append(" ", name);
  }
  if (r.leave_code) {
    if (!onLeave) status.append(" ");
    badge(status, "leave", words.leave + ": " + r.leave_label).dataset.leave = r.leave_code;
  }
  if (r.corrections && r.corrections.length) {
    const title = correctionTitle(words, r.corrections);
    status.append(" ");
    if (r.corrections_url) {
      status.append(linkTo("badge corrected", r.corrections_url, words.corrected, title));
    } else {
      badge(status, "corrected", words.corrected).title = title;
    }
  }
  if (r.correct_url) status.append(" ", linkTo("fix", r.correct_url, words.correct, words.correct_title));
  if (r.review) {
    // The same marker as the server-rendered table: events whose liveness check failed.
    const href = "/admin/people/" + encodeURIComponent(r.person_id) + "#flagged-h";
    status.append(" ", linkTo("badge review", href, words.review, fill(words.review_title, { count: r.review })));
  }
}

function renderRow(r, words, before) {
  const tr = document.createElement("tr");
  tr.dataset.person = r.person_id;
  tr.dataset.status = r.status;
  const who = document.createElement("td");
  const link = document.createElement("a");
  link.href = "/admin/people/" + encodeURIComponent(r.person_id);
  link.textContent = r.name;
  const id = document.createElement("span");
  id.className = "muted";
  id.textContent = r.person_id;
  who.append(link, " ", id);
  tr.appendChild(who);
  cell(tr, r.department);
  statusCell(tr, words, r);
  timeCell(tr, words, r.first_in, r.first_in_corrected);
  timeCell(tr, words, r.last_out, r.last_out_corrected);
  cell(tr, r.worked);
  const late = cell(tr, "");
  if (r.late) badge(late, "late", fill(words.late, { minutes: r.late_minutes }));
  const was = before.get(r.person_id);
  if (was !== undefined && was !== r.status + r.last_out) tr.className = "fresh";
  return tr;
}

function renderDayOff(board, dayOff) {
  const line = board.querySelector("#board-day-off");
  if (!line) return;
  if (!dayOff) {
    line.hidden = true;
    line.replaceChildren();
    return;
  }
  const label = document.createElement("span");
  label.className = "badge " + dayOff.kind;
  label.textContent = dayOff.label;
  line.replaceChildren(label, " " + dayOff.name);
  line.hidden = false;
}

function renderBoard(board, words, data) {
  const body = board.querySelector("tbody");
  const before = new Map();
  body.querySelectorAll("tr[data-person]").forEach((tr) => {
    // The last-out cell's time, without the "*" of an added punch.
    before.set(tr.dataset.person, tr.dataset.status + tr.cells[4].textContent.replace(/\s*\*$/, ""));
  });
  const rows = data.rows.map((r) => renderRow(r, words, before));
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(tr, data.empty);
    td.colSpan = 7;
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  const t = data.totals;
  // Every tile is named after its total in the JSON (present, in_now, late, absent, ...).
  board.querySelectorAll("[data-total]").forEach((el) => {
    const value = t[el.dataset.total];
    if (value !== undefined) el.textContent = String(value);
  });
  renderDayOff(board, data.day_off);
  board.querySelector("#board-updated").textContent = fill(words.updated, { time: data.updated });
}

function startBoard(board) {
  const every = Number(board.dataset.refreshMs) || 5000;
  const words = JSON.parse(board.dataset.words || "{}");
  let failures = 0;
  async function tick() {
    try {
      const response = await fetch(board.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) {
        window.location.assign("/admin/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      renderBoard(board, words, await response.json());
      failures = 0;
    } catch (err) {
      failures += 1;
      board.querySelector("#board-updated").textContent = fill(words.unreachable, { error: err.message });
    }
    // Back off while the server is unreachable, up to a minute.
    setTimeout(tick, Math.min(every * 2 ** failures, 60000));
  }
  setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  const board = document.getElementById("board");
  if (board) startBoard(board);
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
