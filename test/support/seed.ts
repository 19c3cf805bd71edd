import assert from 'node:assert/strict';
import type { TestApp } from './test-app.js';

export const VIDEO_URL = 'https://doxy.me/drbyron';
export const VIDEO_INSTRUCTIONS = 'Check in a few minutes early; the waiting room lets you in.';
export const OFFICE_ADDRESS = '12 Example Street, Springfield, IL 62701';

/** A provider with a default virtual location "video" (Doxy.me) and an office "office". */
export async function seedProvider(
  t: TestApp,
  options: { providerId?: string; privacy?: { mode: string; baaAttested?: boolean }; timezone?: string; joinLink?: 'stable' | 'direct' } = {},
): Promise<string> {
  const providerId = options.providerId ?? 'p1';
  const put = async (path: string, body: unknown) => {
    const res = await t.platform.put(path, body);
    assert.ok(res.status === 201 || res.status === 200, `${path}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  await put(`/api/v1/providers/${providerId}`, {
    name: 'Dr. Ada Byron',
    timezone: options.timezone ?? 'America/New_York',
    ...(options.privacy ? { privacy: options.privacy } : {}),
    // The suites written before stable join links assert the raw room link: 'direct' unless asked.
    joinLink: options.joinLink ?? 'direct',
  });
  await put(`/api/v1/providers/${providerId}/locations/video`, {
    kind: 'virtual',
    name: 'Video',
    url: VIDEO_URL,
    instructions: VIDEO_INSTRUCTIONS,
    waitingRoom: true,
    isDefault: true,
  });
  await put(`/api/v1/providers/${providerId}/locations/office`, { kind: 'office', name: 'Main office', address: OFFICE_ADDRESS });
  return providerId;
}

export const CLIENT = { id: 'c-77', firstName: 'Jane', lastName: 'Doe' };
