// Drives the tutorial chat page (the axum example) in a real headless Chromium (Debian's,
// through playwright-core): `node tutorial-browser.js URL`. Two pages; a message typed in
// one appears in both. Prints a JSON report.
"use strict";

const { chromium } = require("playwright-core");

const [url] = process.argv.slice(2);
const texts = (page, selector) => page.$$eval(selector, (items) => items.map((i) => i.textContent));

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
  });
  const report = {};
  const pages = {};
  try {
    const alice = await browser.newPage();
    const bob = await browser.newPage();
    Object.assign(pages, { alice, bob });
    for (const page of [alice, bob]) {
      await page.goto(url);
      await page.waitForFunction(() => socket.connected, null, { timeout: 10000 });
    }
    const shown = (count) => async (page) =>
      page.waitForFunction((n) => document.querySelectorAll("#messages li").length === n, count, { timeout: 5000 });
    await alice.type("#input", "hello from alice");
    await alice.press("#input", "Enter");
    await Promise.all([alice, bob].map(shown(1)));
    await bob.type("#input", "hi alice");
    await bob.press("#input", "Enter");
    await Promise.all([alice, bob].map(shown(2)));
    report.messages = { alice: await texts(alice, "#messages li"), bob: await texts(bob, "#messages li") };
    report.transport = await alice.evaluate(() => socket.io.engine.transport.name);
  } catch (error) {
    report.error = String(error && error.stack);
    for (const [name, page] of Object.entries(pages)) {
      report[name] = await page
        .evaluate(() => ({
          messages: [...document.querySelectorAll("#messages li")].map((li) => li.textContent),
          connected: socket.connected,
          transport: socket.io.engine && socket.io.engine.transport.name,
        }))
        .catch(String);
    }
  }
  await browser.close();
  process.stdout.write(JSON.stringify(report));
})();
