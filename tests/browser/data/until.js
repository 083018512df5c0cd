// The tests' wait in the page: resolves once `check()` is true, polling every 10 ms.
window.until = (check, ms = 5000) => {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) resolve();
      else if (Date.now() - start > ms) reject(new Error(`not within ${ms} ms: ${check}`));
      else setTimeout(poll, 10);
    };
    poll();
  });
};
