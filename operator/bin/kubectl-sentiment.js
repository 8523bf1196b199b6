#!/usr/bin/env node
// `kubectl sentiment ...`: kubectl runs this as its plugin "sentiment" when it is on PATH as kubectl-sentiment.
import { launch } from "./launch.js";

await launch("main");
