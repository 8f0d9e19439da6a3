/**
 * Worker-thread entry of the bank's local pool (bank/pool.ts): runs `bank-region` jobs in its own
 * tfjs instance. Started through a tsx bootstrap (this file is TypeScript).
 */
import { serveJobs } from './thread-host.js';
import { BANK_REGION_JOB, runBankRegion } from './region-payload.js';

serveJobs({ [BANK_REGION_JOB]: runBankRegion });
