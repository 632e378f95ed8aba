// hadir admin: the only script. It keeps the today board live and asks before
// destructive buttons. No framework, no CDN; data goes into the page as text, never HTML.
"use strict";

function statusText(status) {
  return status.replace("_", " ");
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
}

function renderRow(r, before) {
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
  const status = cell(tr, "");
  badge(status, r.status, statusText(r.status));
  if (r.review) {
    // The same marker as the server-rendered table: events whose liveness check failed.
    const link = document.createElement("a");
    link.className = "badge review";
    link.href = "/admin/people/" + encodeURIComponent(r.person_id) + "#flagged-h";
    link.textContent = "needs review";
    status.append(" ", link);
  }
  cell(tr, r.first_in);
  cell(tr, r.last_out);
  cell(tr, r.worked);
  const late = cell(tr, "");
  if (r.late) badge(late, "late", "late " + r.late_minutes + " min");
  const was = before.get(r.person_id);
  if (was !== undefined && was !== r.status + r.last_out) tr.className = "fresh";
  return tr;
}

function renderBoard(board, data) {
  const body = board.querySelector("tbody");
  const before = new Map();
  body.querySelectorAll("tr[data-person]").forEach((tr) => {
    before.set(tr.dataset.person, tr.dataset.status + tr.cells[4].textContent);
  });
  const rows = data.rows.map((r) => renderRow(r, before));
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
  board.querySelector("#board-updated").textContent = "Updated " + data.updated;
}

function startBoard(board) {
  const every = Number(board.dataset.refreshMs) || 5000;
  let failures = 0;
  async function tick() {
    try {
      const response = await fetch(board.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) {
        window.location.assign("/admin/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      renderBoard(board, await response.json());
      failures = 0;
    } catch (err) {
      failures += 1;
      board.querySelector("#board-updated").textContent = "Cannot reach the server (" + err.message + "); retrying";
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
