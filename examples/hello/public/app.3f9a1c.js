// Fingerprinted asset: its name changes with its content, so it is served as immutable.
fetch("/api/time")
  .then((r) => r.json())
  .then((t) => {
    document.getElementById("gen").textContent = `generation ${t.generation}, pid ${t.pid}`;
  });
