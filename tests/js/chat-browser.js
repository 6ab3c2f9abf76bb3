// Drives the chat demo in a real headless Chromium (Debian's, through playwright-core):
// `node chat-browser.js URL [SCREENSHOT]`. Two pages, one forced to long-polling; prints
// a JSON report of what each page showed.
"use strict";

const { chromium } = require("playwright-core");

const [url, screenshot] = process.argv.slice(2);
const texts = (page, selector) => page.$$eval(selector, (items) => items.map((i) => i.textContent));

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const report = {};
  try {
    const alice = await browser.newPage();
    const bob = await browser.newPage();
    await alice.goto(`${url}/?nick=alice`);
    await bob.goto(`${url}/?nick=bob&transports=polling`);
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => document.querySelectorAll("#online li").length === 2, null, { timeout: 10000 });
    }
    report.online = { alice: await texts(alice, "#online li"), bob: await texts(bob, "#online li") };

    await alice.type("#input", "hello from alice", { delay: 20 });
    await bob.waitForFunction(() => document.getElementById("typing").textContent.includes("alice is typing"), null, { timeout: 5000 });
    report.typingSeenByBob = await bob.textContent("#typing");
    await alice.press("#input", "Enter");
    await bob.type("#input", "hi alice");
    await bob.press("#input", "Enter");
    await alice.type("#input", "/msg bob just for you");
    await alice.press("#input", "Enter");
    const expect = ["alice: hello from alice", "bob: hi alice"];
    for (const page of [alice, bob]) {
      await page.waitForFunction(
        (wanted) => wanted.every((w) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === w)),
        expect,
        { timeout: 5000 },
      );
    }
    await bob.waitForFunction(() => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === "(from alice) just for you"), null, { timeout: 5000 });
    await bob.waitForFunction(() => document.getElementById("typing").textContent === "", null, { timeout: 5000 });
    report.transports = {
      alice: await alice.evaluate(() => socket.io.engine.transport.name),
      bob: await bob.evaluate(() => socket.io.engine.transport.name),
    };
    await alice.close();
    await bob.waitForFunction(() => document.querySelectorAll("#online li").length === 1, null, { timeout: 10000 });
    report.messages = { bob: await texts(bob, "#messages li") };
    report.onlineAfter = await texts(bob, "#online li");
    if (screenshot) await bob.screenshot({ path: screenshot, fullPage: true });
  } catch (error) {
    report.error = String(error && error.stack);
  }
  await browser.close();
  process.stdout.write(JSON.stringify(report));
})();
