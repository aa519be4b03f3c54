#!/usr/bin/env node
import '../dist/cmd/main.js';
