// The placement widget: ranked placements with their price; the chosen row is marked,
// unusable rows are greyed with their reason. With --confirm a click on a usable row (or
// "Run") tells the kernel where to launch. Then the same widget is the cell's status line.
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function table(model, el) {
  const rows = model.get("rows");
  const chosen = model.get("chosen");
  const confirm = model.get("confirm") && !model.get("decided");
  const tbl = document.createElement("table");
  tbl.className = "sky-plan";
  const head = document.createElement("tr");
  for (const h of model.get("columns")) cell(head, h, "sky-head");
  tbl.appendChild(head);
  rows.forEach((row, i) => {
    const tr = document.createElement("tr");
    tr.className = "sky-row" + (i === chosen ? " sky-chosen" : "") + (row.usable ? "" : " sky-unusable");
    tr.dataset.index = String(i);
    tr.dataset.infra = row.infra;
    tr.title = row.reason || "";
    row.cells.forEach((text) => cell(tr, text));
    if (confirm && row.usable) {
      tr.style.cursor = "pointer";
      tr.addEventListener("click", () => {
        model.set("selected", i);
        model.set("action", "run");
        model.save_changes();
      });
    }
    tbl.appendChild(tr);
  });
  return tbl;
}

function render({ model, el }) {
  el.classList.add("sky-placement");
  const draw = () => {
    el.replaceChildren();
    const status = document.createElement("div");
    status.className = "sky-status";
    status.textContent = model.get("status");
    el.appendChild(status);
    if (model.get("rows").length && !model.get("collapsed")) el.appendChild(table(model, el));
    if (model.get("confirm") && !model.get("decided")) {
      const run = document.createElement("button");
      run.className = "sky-run";
      run.textContent = "Run on the chosen row";
      run.addEventListener("click", () => {
        model.set("selected", model.get("chosen"));
        model.set("action", "run");
        model.save_changes();
      });
      el.appendChild(run);
    }
  };
  model.on("change", draw);
  draw();
  // Tells the kernel this frontend delivers widget messages while the cell runs. Repeated:
  // JupyterLab opens the comm subshell asynchronously, so the first message may still go to
  // the (busy) main shell; a later one arrives on the subshell while the cell waits.
  let tries = 0;
  const hello = () => {
    if (model.get("heard") || tries++ > 20) return;
    model.send({ type: "ready" });
    setTimeout(hello, 250);
  };
  hello();
}

export default { render };
