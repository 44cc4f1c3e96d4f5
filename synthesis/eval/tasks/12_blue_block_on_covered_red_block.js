// instruction: stack the blue block on the red block
function pickWithRetry(id) {
  for (let attempt = 1; attempt <= 8; attempt++) {
    try {
      pick(id);
      return;
    } catch (e) {
      if (e.code !== "grasp_failed" || attempt === 8) throw e;
    }
  }
}
function clearTop(id) {
  for (const obj of detect().filter((o) => o.on === id)) {
    clearTop(obj.id);
    pickWithRetry(obj.id);
    const ws = workspace();
    place({ x: ws.xMin + 0.05, y: ws.yMin + 0.05 });
  }
}
const red = detect("red block")[0];
const blue = detect("blue block")[0];
clearTop(red.id);
clearTop(blue.id);
pickWithRetry(blue.id);
place(red.id);
