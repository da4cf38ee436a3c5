// The hole, painted over a picture: brush, eraser and rectangle, with undo, redo and clear.
// The canvas keeps the picture's own pixels and shrinks with the page (a phone's width), so a stroke is
// mapped back to the picture's pixels wherever it lands. The painted mask goes to Python as a PNG whose
// alpha is the hole, after every stroke and every undo, redo or clear.

const strokesById = (window.__facefillMaskStrokes ||= new Map()); // survives a rerun that remounts the canvas

function pointOf(canvas, event) {
  const box = canvas.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * canvas.width) / box.width,
    ((event.clientY - box.top) * canvas.height) / box.height,
  ];
}

function paintStroke(ctx, stroke) {
  ctx.save();
  ctx.globalCompositeOperation = stroke.tool === "eraser" ? "destination-out" : "source-over";
  ctx.fillStyle = ctx.strokeStyle = "#fff";
  if (stroke.tool === "rect") {
    const [[x0, y0], [x1, y1]] = stroke.points;
    ctx.fillRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
  } else {
    ctx.lineWidth = stroke.width;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    const [first, ...rest] = stroke.points;
    ctx.moveTo(...first);
    for (const point of rest.length ? rest : [first]) ctx.lineTo(...point);
    ctx.stroke();
  }
  ctx.restore();
}

export default function ({ data, parentElement, setStateValue }) {
  const { id, image, width, height, tool, brush } = data;
  if (!strokesById.has(id)) strokesById.set(id, { done: [], undone: [] });
  const history = strokesById.get(id);

  // A rerun with new data (another tool, another brush) calls this again on the same element.
  for (const old of parentElement.querySelectorAll(".facefill-mask")) old.remove();
  const root = document.createElement("div");
  root.className = "facefill-mask";
  root.innerHTML = `
    <canvas class="facefill-mask-canvas" aria-label="Paint the hole here"></canvas>
    <div class="facefill-mask-tools">
      <button type="button" data-action="undo">Undo</button>
      <button type="button" data-action="redo">Redo</button>
      <button type="button" data-action="clear">Clear</button>
    </div>`;
  parentElement.appendChild(root);
  const canvas = root.querySelector("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.style.maxWidth = `${width}px`;
  canvas.style.aspectRatio = `${width} / ${height}`;
  const view = canvas.getContext("2d");
  const mask = document.createElement("canvas");
  mask.width = width;
  mask.height = height;
  const maskCtx = mask.getContext("2d");
  const picture = new Image();

  function show(pending) {
    view.clearRect(0, 0, width, height);
    if (picture.complete) view.drawImage(picture, 0, 0, width, height);
    view.globalAlpha = 0.75;
    view.drawImage(mask, 0, 0);
    if (pending) paintStroke(view, pending);
    view.globalAlpha = 1;
  }

  function replay() {
    maskCtx.clearRect(0, 0, width, height);
    for (const stroke of history.done) paintStroke(maskCtx, stroke);
    show();
  }

  function send() {
    setStateValue("mask", { png: mask.toDataURL("image/png"), strokes: history.done.length });
  }

  let current = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    const point = pointOf(canvas, event);
    current = { tool, width: brush, points: tool === "rect" ? [point, point] : [point] };
    if (tool !== "rect") paintStroke(maskCtx, current);
    show();
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    const point = pointOf(canvas, event);
    if (current.tool === "rect") {
      current.points[1] = point;
      show(current);
    } else {
      const last = current.points[current.points.length - 1];
      current.points.push(point);
      paintStroke(maskCtx, { ...current, points: [last, point] });
      show();
    }
  });
  const finish = (event) => {
    if (!current) return;
    if (current.tool === "rect") {
      current.points[1] = pointOf(canvas, event);
      paintStroke(maskCtx, current);
    }
    history.done.push(current);
    history.undone = [];
    current = null;
    show();
    send();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  root.querySelector(".facefill-mask-tools").addEventListener("click", (event) => {
    const action = event.target.dataset?.action;
    if (action === "undo" && history.done.length) history.undone.push(history.done.pop());
    else if (action === "redo" && history.undone.length) history.done.push(history.undone.pop());
    else if (action === "clear" && history.done.length) {
      history.undone = [];
      history.done = [];
    } else return;
    replay();
    send();
  });

  picture.onload = () => show();
  picture.src = image;
  replay();
  return () => root.remove();
}
