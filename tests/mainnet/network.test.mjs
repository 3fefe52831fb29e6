// node --test tests/mainnet/network.test.mjs — web/network.mjs: the network and canisters come
// from the page's URL; config.json only fills in what the URL cannot say.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deploymentFrom } from "../../web/network.mjs";

const FRONTEND = "r7inp-6aaaa-aaaaa-aaabq-cai";
const GPT2 = "ryjl3-tyaaa-aaaaa-aaaba-cai";
const LOCAL_CONFIG = { network: "local", api_host: "http://localhost:4943", gpt2_canister: GPT2,
  model_base: `http://${GPT2}.localhost:4943/model/` };
// a page built for one network and served from another: the URL wins
const STALE_CONFIG = { network: "local", api_host: "http://localhost:4943", gpt2_canister: GPT2,
  model_base: "http://old.localhost:4943/model/" };

test("local replica: <id>.localhost:<port>", () => {
  const d = deploymentFrom(new URL(`http://${FRONTEND}.localhost:4943/index.html`), LOCAL_CONFIG);
  assert.deepEqual([d.network, d.frontendCanister, d.gpt2Canister], ["local", FRONTEND, GPT2]);
  assert.equal(d.apiHost, "http://localhost:4943");
  assert.equal(d.modelBase, `http://${GPT2}.localhost:4943/model/`);
  assert.equal(d.fetchRootKey, true);
  assert.equal(d.from.network, "url");
});

test("local replica on another port than config says: the URL's port", () => {
  const d = deploymentFrom(new URL(`http://${FRONTEND}.raw.localhost:8000/`), LOCAL_CONFIG);
  assert.equal(d.apiHost, "http://localhost:8000");
  assert.equal(d.modelBase, `http://${GPT2}.localhost:8000/model/`);
});

test("mainnet: <id>.icp0.io and <id>.ic0.app, whatever config.json says", () => {
  for (const host of [`${FRONTEND}.icp0.io`, `${FRONTEND}.ic0.app`, `${FRONTEND}.raw.icp0.io`]) {
    const d = deploymentFrom(new URL(`https://${host}/`), STALE_CONFIG);
    assert.equal(d.network, "ic", host);
    assert.equal(d.frontendCanister, FRONTEND);
    assert.equal(d.apiHost, "https://icp-api.io");
    assert.equal(d.modelBase, `https://${GPT2}.icp0.io/model/`);
    assert.equal(d.fetchRootKey, false, "never fetch the root key on mainnet");
  }
});

test("raw host with ?canisterId=", () => {
  const local = deploymentFrom(new URL(`http://127.0.0.1:4943/?canisterId=${FRONTEND}`), LOCAL_CONFIG);
  assert.deepEqual([local.network, local.frontendCanister, local.apiHost], ["local", FRONTEND, "http://127.0.0.1:4943"]);
  assert.equal(local.modelBase, `http://${GPT2}.localhost:4943/model/`);
  const ic = deploymentFrom(new URL(`https://icp0.io/?canisterId=${FRONTEND}`), STALE_CONFIG);
  assert.deepEqual([ic.network, ic.apiHost, ic.fetchRootKey], ["ic", "https://icp-api.io", false]);
});

test("an unknown host (custom domain): config.json decides", () => {
  const config = { network: "ic", api_host: "https://icp-api.io", gpt2_canister: GPT2,
    model_base: `https://${GPT2}.icp0.io/model/` };
  const d = deploymentFrom(new URL("https://chat.example.com/"), config);
  assert.deepEqual([d.network, d.apiHost, d.modelBase, d.frontendCanister], ["ic", "https://icp-api.io", config.model_base, null]);
  assert.equal(d.from.network, "config");
  const plain = deploymentFrom(new URL("http://127.0.0.1:8080/"), {});
  assert.deepEqual([plain.network, plain.apiHost, plain.modelBase], ["local", "http://127.0.0.1:8080", null]);
});

test("labels that are not canister ids are not taken for one", () => {
  const d = deploymentFrom(new URL("https://www.icp0.io/"), STALE_CONFIG);
  assert.equal(d.from.network, "config");
  const bad = deploymentFrom(new URL("http://127.0.0.1:4943/?canisterId=NOT_AN_ID"), LOCAL_CONFIG);
  assert.equal(bad.frontendCanister, null);
  // five base32 letters, but no valid checksum
  assert.equal(deploymentFrom(new URL("http://hello.localhost:4943/"), LOCAL_CONFIG).from.network, "config");
  // one letter off in a real id
  assert.equal(deploymentFrom(new URL("https://r7inp-6aaaa-aaaaa-aaabq-caj.icp0.io/"), {}).from.network, "config");
  // the management canister and the anonymous principal are valid principal texts
  assert.equal(deploymentFrom(new URL("http://aaaaa-aa.localhost:1/"), {}).frontendCanister, "aaaaa-aa");
});

test("no gpt2 id anywhere: modelBase falls back to config, or null", () => {
  const d = deploymentFrom(new URL(`https://${FRONTEND}.icp0.io/`), {});
  assert.deepEqual([d.network, d.gpt2Canister, d.modelBase], ["ic", null, null]);
});

test("accepts a Location-like object (href only)", () => {
  const d = deploymentFrom({ href: `https://${FRONTEND}.icp0.io/chat?x=1` }, { gpt2_canister: GPT2 });
  assert.equal(d.modelBase, `https://${GPT2}.icp0.io/model/`);
});
