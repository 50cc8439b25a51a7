// Preloaded into each service by `npm run bench -- --profile` (NODE_OPTIONS=--import ...): the same V8 sampling
// profile as `node --cpu-prof` (which Node 20 does not accept in NODE_OPTIONS, and the services' command line is the
// system launcher's), written when the process exits to $JETSAGA_CPU_PROFILE_DIR under the same file name pattern.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.JETSAGA_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  // In-process inspector calls answer synchronously, so the profile is written before the process is gone.
  process.once('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `CPU.${Date.now()}.${process.pid}.0.001.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
