// What a team's consumer does: read every notification, act, delete it (or, for the test of
// the mistake, forget to).
import { QueueClient } from '@azure/storage-queue';

export async function consume(connectionString, queueName, { remove = true } = {}) {
  const client = new QueueClient(connectionString, queueName);
  const seen = [];
  for (;;) {
    const { receivedMessageItems: batch } = await client.receiveMessages({ numberOfMessages: 32 });
    if (batch.length === 0) return seen;
    for (const message of batch) {
      seen.push(JSON.parse(message.messageText).type);
      if (remove) await client.deleteMessage(message.messageId, message.popReceipt);
    }
  }
}
