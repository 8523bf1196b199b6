#!/usr/bin/env node
// Shell completion of `kubectl sentiment ...`: kubectl 1.26+ runs this, found on PATH as
// kubectl_complete-sentiment, with the words typed after "sentiment".
import { launch } from "./launch.js";

await launch("complete-main");
