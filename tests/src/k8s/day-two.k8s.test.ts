import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCrdManifests } from '@jetsaga/operator';
import { describe, expect, inject, it } from 'vitest';
import { find, helmTemplate } from './render.js';

const CHART_CRDS = fileURLToPath(new URL('../../../charts/operator/crds/', import.meta.url));
const umbrella = () => join(inject('chartsDir'), 'jetsaga');

type PodSpec = {
  restartPolicy: string;
  automountServiceAccountToken: boolean;
  securityContext: Record<string, unknown>;
  containers: Array<{
    command: string[];
    env: Array<{ name: string; value?: string; valueFrom?: any }>;
    securityContext: Record<string, unknown>;
    volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  }>;
  volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }>;
};

describe('day two: CRDs that upgrade', () => {
  it("reads the chart's crds/ (the hook's ConfigMap holds the same files) and may update only those CRDs", async () => {
    const manifests = await readCrdManifests(CHART_CRDS);
    const names = manifests.map((manifest) => manifest.crd.metadata?.name);
    expect(names).toEqual(['eventconsumers.jetsaga.dev', 'eventstreams.jetsaga.dev', 'projections.jetsaga.dev']);
    const objects = await helmTemplate(inject('helmBin'), join(inject('chartsDir'), 'operator'), { release: 'acme', namespace: 'shop' });
    const hooked = objects.filter(
      (object) => (object.metadata as { annotations?: Record<string, string> }).annotations?.['helm.sh/hook'] === 'pre-install,pre-upgrade',
    );
    expect(hooked.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual([
      'ClusterRole/shop-acme-operator-crds',
      'ClusterRoleBinding/shop-acme-operator-crds',
      'ConfigMap/acme-operator-crds',
      'Job/acme-operator-crds',
      'ServiceAccount/acme-operator-crds',
    ]);
    const configMap = hooked.find((object) => object.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    for (const manifest of manifests) {
      const text = configMap.data[manifest.file] as string;
      expect(createHash('sha256').update(text).digest('hex'), manifest.file).toBe(manifest.digest);
      expect(text).toBe(await readFile(join(CHART_CRDS, manifest.file), 'utf8'));
    }
    const role = hooked.find((object) => object.kind === 'ClusterRole') as unknown as {
      rules: Array<{ verbs: string[]; resourceNames?: string[] }>;
    };
    expect(role.rules).toEqual([
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['create'] },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], resourceNames: names, verbs: ['get', 'update'] },
    ]);
  });
});

describe('day two: scheduled backups and the restore Job', () => {
  it('backs up EVENTS and the database daily into a kept claim; the restore CronJob is suspended, its volume read-only', async () => {
    const objects = await helmTemplate(inject('helmBin'), umbrella(), { release: 'acme', namespace: 'shop' });
    const claim = find(objects, 'PersistentVolumeClaim', 'acme-backup') as unknown as { metadata: { annotations: Record<string, string> } };
    expect(claim.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
    for (const command of ['backup', 'restore']) {
      const cron = find(objects, 'CronJob', `acme-${command}`) as unknown as {
        spec: { suspend: boolean; schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: PodSpec } } } };
      };
      expect(cron.spec.suspend, command).toBe(command === 'restore');
      expect(cron.spec.concurrencyPolicy).toBe('Forbid');
      const pod = cron.spec.jobTemplate.spec.template.spec;
      expect(pod.restartPolicy).toBe('Never');
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      const [container] = pod.containers;
      expect(container?.command).toEqual(['node', 'services/event-store/dist/backup/main.js', command]);
      expect(container?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(container?.env).toContainEqual({ name: 'BACKUP_KEEP', value: '7' });
      expect(container?.env).toContainEqual({ name: 'NATS_USER', value: 'admin' });
      expect(container?.env.find((variable) => variable.name === 'DATABASE_URL')?.valueFrom).toEqual({
        secretKeyRef: { name: 'acme-database', key: 'url' },
      });
      expect(container?.volumeMounts).toContainEqual({ name: 'backup', mountPath: '/backup', readOnly: command === 'restore' });
      expect(pod.volumes.find((volume) => volume.name === 'backup')?.persistentVolumeClaim).toEqual({ claimName: 'acme-backup' });
    }
    const policy = find(objects, 'NetworkPolicy', 'acme-backup') as unknown as { spec: { ingress: unknown[]; podSelector: unknown } };
    expect(policy.spec.ingress).toEqual([]);
    expect(policy.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'backup', 'app.kubernetes.io/instance': 'acme' } });
  });

  it('takes an existing claim, a schedule and a retention of yours', async () => {
    const objects = await helmTemplate(inject('helmBin'), umbrella(), {
      release: 'acme',
      set: ['backup.persistence.existingClaim=offsite', 'backup.schedule=0 */6 * * *', 'backup.keep=28'],
    });
    expect(objects.some((object) => object.kind === 'PersistentVolumeClaim' && object.metadata.name === 'acme-backup')).toBe(false);
    const cron = find(objects, 'CronJob', 'acme-backup') as unknown as {
      spec: { schedule: string; jobTemplate: { spec: { template: { spec: PodSpec } } } };
    };
    expect(cron.spec.schedule).toBe('0 */6 * * *');
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.volumes.find((volume) => volume.name === 'backup')?.persistentVolumeClaim).toEqual({ claimName: 'offsite' });
    expect(pod.containers[0]?.env).toContainEqual({ name: 'BACKUP_KEEP', value: '28' });
  });
});
