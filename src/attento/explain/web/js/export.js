// Every view as a picture for a slide: SVG (the view's markup in a foreignObject, with the
// page's styles inlined and each canvas turned into its PNG via toDataURL; SVG figures go in
// as they are) and PNG (that SVG drawn on a canvas at twice the size). A whole stage has its
// buttons in its title; each figure in it (an attention map, a histogram, the bars) its own,
// shown when the pointer is over it, so one map can go on a slide alone.
import { el } from "./draw.js";
import { t } from "./i18n.js";

const PNG_SCALE = 2;

function pageStyles() {
  const rules = [];
  for (const sheet of document.styleSheets) {
    try {
      for (const r of sheet.cssRules) rules.push(r.cssText);
    } catch {
      // a sheet of another origin: none on this page
    }
  }
  return rules.join("\n");
}

// the SVG text of `node` as it looks now
export function svgOf(node) {
  const box = node.getBoundingClientRect();
  const w = Math.ceil(box.width);
  const h = Math.ceil(box.height);
  const clone = node.cloneNode(true);
  const from = node.querySelectorAll("canvas");
  clone.querySelectorAll("canvas").forEach((c, k) => {
    const img = document.createElement("img");
    img.src = from[k].toDataURL("image/png");
    img.className = c.className;
    img.setAttribute("style", `width:${from[k].style.width};height:${from[k].style.height}`);
    c.replaceWith(img);
  });
  const fields = node.querySelectorAll("input, textarea, select");
  clone.querySelectorAll("input, textarea, select").forEach((f, k) => {
    if (f.type === "checkbox") f.toggleAttribute("checked", fields[k].checked);
    else if (f.tagName === "TEXTAREA") f.textContent = fields[k].value;
    else f.setAttribute("value", fields[k].value);
  });
  for (const e of clone.querySelectorAll(".export-bar")) e.remove();
  clone.classList.remove("tour-focus");
  const root = getComputedStyle(document.documentElement);
  const body = new XMLSerializer().serializeToString(clone);
  const style = `${pageStyles()}\n.export-root{font-family:${root.fontFamily};color:${root.color};line-height:1.5;width:${w}px}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">` +
    `<foreignObject x="0" y="0" width="${w}" height="${h}">` +
    `<div xmlns="http://www.w3.org/1999/xhtml" class="export-root"><style>${style.replace(/</g, "\\3c ")}</style>${body}</div>` +
    "</foreignObject></svg>"
  );
}

// a PNG Blob of `node`, drawn from its SVG
export async function pngOf(node) {
  const svg = svgOf(node);
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width * PNG_SCALE;
  canvas.height = img.height * PNG_SCALE;
  const g = canvas.getContext("2d");
  g.fillStyle = "#ffffff";
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.scale(PNG_SCALE, PNG_SCALE);
  g.drawImage(img, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no PNG"))), "image/png"));
}

function download(blob, name) {
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export async function exportView(section, kind, name = `attento-${section.id.replace(/^s-/, "")}.${kind}`) {
  const blob = kind === "svg" ? new Blob([svgOf(section)], { type: "image/svg+xml" }) : await pngOf(section);
  download(blob, name);
  return blob;
}

function exportButtons(onExport, attr) {
  const bar = el("span", { class: attr === "data-export" ? "export-bar" : "export-bar fig-export" });
  for (const kind of ["png", "svg"]) {
    bar.append(
      el("button", {
        type: "button",
        class: "chip-btn export-btn",
        [attr]: kind,
        "data-i18n": `export.${kind}`,
        title: t(attr === "data-export" ? "export.title" : "export.figure"),
        text: t(`export.${kind}`),
        onclick: () => onExport(kind),
      }),
    );
  }
  return bar;
}

// the file name of the k-th figure (from 1) of a stage: attento-<stage>-<k>.<kind>
export function figureName(figure, kind) {
  const section = figure.closest(".stage");
  const stage = section ? section.id.replace(/^s-/, "") : "view";
  const k = section ? [...section.querySelectorAll("figure")].indexOf(figure) + 1 : 1;
  return `attento-${stage}-${k}.${kind}`;
}

// a PNG and an SVG button on every figure of the page that has none yet, now and whenever a
// view draws new ones
export function addFigureButtons(root = document.querySelector("main")) {
  if (!root) return;
  const add = () => {
    for (const fig of root.querySelectorAll("figure:not([data-exportable])")) {
      fig.dataset.exportable = "1";
      fig.prepend(exportButtons((kind) => exportView(fig, kind, figureName(fig, kind)), "data-export-figure"));
    }
  };
  add();
  for (const b of root.querySelectorAll(".fig-export button")) b.title = t("export.figure");
  if (!root.dataset.figureExports) {
    root.dataset.figureExports = "1";
    new MutationObserver(add).observe(root, { childList: true, subtree: true });
  }
}

// a PNG and an SVG button in the title of every stage
export function addExportButtons() {
  for (const section of document.querySelectorAll("main .stage")) {
    const h2 = section.querySelector("h2");
    const old = h2 && h2.querySelector(".export-bar");
    if (old) for (const b of old.children) b.title = t("export.title");
    if (!h2 || old) continue;
    h2.append(exportButtons((kind) => exportView(section, kind), "data-export"));
  }
  addFigureButtons();
}
