/**
 * Worker-thread entry for every region job kind: the transfer's local pool and the cluster's worker
 * processes (src/cluster/) start their threads on it. Started through a tsx bootstrap (bank/pool.ts).
 */
import { serveJobs } from '../bank/thread-host.js';
import { BANK_REGION_JOB, runBankRegion } from '../bank/region-payload.js';
import { TRANSFER_REGION_JOB, runTransferRegion } from './region-eval.js';

serveJobs({ [BANK_REGION_JOB]: runBankRegion, [TRANSFER_REGION_JOB]: runTransferRegion });
