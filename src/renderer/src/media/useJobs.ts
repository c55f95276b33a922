/**
 * Storage jobs as every client sees them: the core's list at first, then each `job.progress`
 * event replaces its job. Finished jobs stay listed a while so their outcome can be read.
 */
import { useCallback, useEffect, useState } from 'react';
import type { JobInfo, MediumInfo } from '../../../core/api/contract';
import { useClient } from '../hooks/client';

export function useJobs(): readonly JobInfo[] {
  const client = useClient();
  const [jobs, setJobs] = useState<readonly JobInfo[]>([]);
  useEffect(() => {
    let disposed = false;
    const off = client.on('job.progress', (j) => setJobs((prev) => upsertJob(prev, j)));
    client.call('jobs.list', {}).then(
      (list) => {
        if (!disposed) setJobs((prev) => list.reduce(upsertJob, prev));
      },
      () => undefined,
    );
    return () => {
      disposed = true;
      off();
    };
  }, [client]);
  return jobs;
}

/** Newest first; an event for a known job replaces it unless it is older news. */
export function upsertJob(list: readonly JobInfo[], j: JobInfo): readonly JobInfo[] {
  const i = list.findIndex((x) => x.id === j.id);
  if (i < 0) return [j, ...list];
  const old = list[i]!;
  if (old.state !== 'running' && j.state === 'running') return list;
  return list.map((x, k) => (k === i ? j : x));
}

/** One job, followed live from the moment it is known. */
export function useJob(initial: JobInfo | null): JobInfo | null {
  const client = useClient();
  const [job, setJob] = useState<JobInfo | null>(initial);
  useEffect(() => setJob(initial), [initial]);
  useEffect(() => {
    if (!initial) return undefined;
    let disposed = false;
    const off = client.on('job.progress', (j) => {
      if (j.id === initial.id) setJob((prev) => (prev && prev.state !== 'running' ? prev : j));
    });
    // The end may have come before we listened: ask once.
    client.call('jobs.wait', { id: initial.id }).then(
      (j) => {
        if (!disposed) setJob(j);
      },
      () => undefined,
    );
    return () => {
      disposed = true;
      off();
    };
  }, [client, initial]);
  return job;
}

/** The media registry, refreshed whenever the core says it changed. */
export function useRegistry(active: boolean): { readonly media: readonly MediumInfo[] | null; readonly error: unknown; readonly reload: () => void } {
  const client = useClient();
  const [media, setMedia] = useState<readonly MediumInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!active) return undefined;
    let disposed = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const load = () => {
      timer = null;
      client.call('media.registry', {}).then(
        (m) => {
          if (!disposed) {
            setMedia(m);
            setError(null);
          }
        },
        (err: unknown) => {
          if (!disposed) setError(err);
        },
      );
    };
    const soon = () => {
      timer ??= setTimeout(load, 150);
    };
    const offs = [client.on('media.changed', soon), client.on('vm.changed', soon), client.on('vm.removed', soon)];
    load();
    return () => {
      disposed = true;
      if (timer !== null) clearTimeout(timer);
      for (const off of offs) off();
    };
  }, [client, active, tick]);
  return { media, error, reload };
}
