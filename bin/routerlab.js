#!/usr/bin/env node
// Builds dist/ first when it is missing or stale (a fresh clone), then runs the CLI.
const { ensureBuilt, entry } = require("../scripts/ensure-built.js");
ensureBuilt();
require(entry).runCli();
