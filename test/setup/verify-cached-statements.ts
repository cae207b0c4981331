import { verifyEveryCachedExecution } from '../../src/db/statement-cache.js';

// Every statement a test runs from the statement cache is also built as before and compared (db/statement-cache.ts).
verifyEveryCachedExecution();
