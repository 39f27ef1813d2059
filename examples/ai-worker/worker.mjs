// An AI worker outside SKER. With AI_WORKER_QUEUE set, every AI card's run
// is published to that RabbitMQ queue; this worker takes the jobs, asks an
// OpenAI-compatible chat completions API for the answer (stream: true),
// sends the answer back piece by piece on the job's reply_to queue and
// stops a run when SKER publishes its cancel. The messages are described
// in docs/bridge.md ("AI jobs for outside workers").
//
//   RABBITMQ_URL         amqp://localhost
//   AI_WORKER_QUEUE      sker.ai.jobs (the same name as SKER's setting)
//   OPENAI_BASE_URL      https://api.openai.com/v1
//   OPENAI_API_KEY       the key (empty: no Authorization header)
//   WORKER_MODEL         model when the card names none (gpt-4o-mini)
//   WORKER_CONCURRENCY   jobs at once (4)
import amqplib from 'amqplib';

const url = process.env.RABBITMQ_URL || 'amqp://localhost';
const queue = process.env.AI_WORKER_QUEUE || 'sker.ai.jobs';
const base = (process.env.OPENAI_BASE_URL || 'https://api.openai.com/v1').replace(/\/+$/, '');
const apiKey = process.env.OPENAI_API_KEY || '';
const defaultModel = process.env.WORKER_MODEL || 'gpt-4o-mini';
const concurrency = Math.max(1, Number(process.env.WORKER_CONCURRENCY || 4));

// run id → AbortController of the run in progress here.
const running = new Map();

const log = (...args) => console.log(new Date().toISOString(), 'worker:', ...args);

const connection = await amqplib.connect(url, {
  clientProperties: { connection_name: 'sker ai worker example' },
  recovery: {
    initialDelay: 200,
    maxDelay: 5000,
    maxRetries: Infinity,
    // Runs after every (re)connect: the topology and the consumers again.
    async setup(model) {
      const ch = await model.createConfirmChannel();
      ch.on('error', (err) => log('channel error:', err.message));
      await ch.assertQueue(queue, { durable: true });
      const cancelExchange = `${queue}.cancel`;
      await ch.assertExchange(cancelExchange, 'fanout', { durable: true });
      // A queue of this worker's own for the cancels: every worker hears
      // every cancel, the one running the job stops it.
      const { queue: cancels } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.bindQueue(cancels, cancelExchange, '');
      await ch.consume(cancels, (msg) => {
        if (msg === null) return;
        try {
          const { run } = JSON.parse(msg.content.toString());
          const ctl = running.get(run);
          if (ctl) {
            log('cancel', run);
            ctl.abort(new Error('cancelled'));
          }
        } catch (err) {
          log('ignoring a cancel that is not JSON:', err.message);
        }
      }, { noAck: true });
      await ch.prefetch(concurrency);
      await ch.consume(queue, (msg) => {
        if (msg !== null) handle(ch, msg);
      });
      log(`ready on queue ${queue}`);
    },
  },
});
connection.on('disconnect', (err) => log('disconnected:', err?.message));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    log('stopping');
    for (const ctl of running.values()) ctl.abort(new Error('cancelled'));
    await new Promise((r) => setTimeout(r, 200)); // the cancelled replies go out
    await connection.close().catch(() => {});
    process.exit(0);
  });
}

// handle runs one job. It is acked as soon as it is taken: a worker that
// dies mid-run leaves the card to SKER, which marks it failed once the
// job's deadline passes (as SKER's own workers do).
async function handle(ch, msg) {
  let job;
  try {
    job = JSON.parse(msg.content.toString());
    if (job.type !== 'job' || typeof job.run !== 'string' || !Array.isArray(job.messages)) {
      throw new Error('not a job');
    }
  } catch (err) {
    log('dropping a message that is not a job:', err.message);
    ch.nack(msg, false, false);
    return;
  }
  ch.ack(msg);
  const replyTo = msg.properties.replyTo;
  const send = (body) =>
    new Promise((resolve, reject) => {
      ch.sendToQueue(replyTo, Buffer.from(JSON.stringify({ run: job.run, ...body })), {
        correlationId: job.run, contentType: 'application/json', persistent: true,
      }, (err) => (err ? reject(err) : resolve()));
    });
  const ctl = new AbortController();
  running.set(job.run, ctl);
  const untilDeadline = job.deadline ? job.deadline - Date.now() : 0;
  const timer = untilDeadline > 0 ? setTimeout(() => ctl.abort(new Error('deadline')), untilDeadline) : null;
  const usage = { input_tokens: 0, output_tokens: 0 };
  let seq = 0;
  log('job', job.run, 'canvas', job.canvas, 'card', job.card);
  try {
    for await (const piece of complete(job, ctl.signal, usage)) {
      seq += 1;
      await send({ type: 'delta', seq, text: piece });
    }
    await send({ type: 'done', usage });
    log('done', job.run, `${seq} deltas`);
  } catch (err) {
    if (ctl.signal.aborted) {
      await send({ type: 'cancelled', usage }).catch(() => {});
      log('cancelled', job.run);
    } else {
      await send({ type: 'error', message: String(err.message || err) }).catch(() => {});
      log('failed', job.run, err.message);
    }
  } finally {
    if (timer) clearTimeout(timer);
    running.delete(job.run);
  }
}

// complete streams the answer of an OpenAI-compatible chat completions
// API, yielding each piece of text and filling usage at the end.
async function* complete(job, signal, usage) {
  const messages = [];
  if (job.system) messages.push({ role: 'system', content: job.system });
  messages.push(...job.messages);
  const body = {
    model: job.model || defaultModel, messages, stream: true, stream_options: { include_usage: true },
  };
  if (job.temperature != null) body.temperature = job.temperature;
  if (job.max_tokens) body.max_tokens = job.max_tokens;
  const headers = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const res = await fetch(`${base}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body), signal });
  if (!res.ok) {
    const text = await res.text();
    let message = text.slice(0, 300);
    try {
      message = JSON.parse(text).error?.message || message;
    } catch {}
    throw new Error(`the model answered ${res.status}: ${message}`);
  }
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') return;
      const event = JSON.parse(data);
      if (event.usage) {
        usage.input_tokens = event.usage.prompt_tokens ?? 0;
        usage.output_tokens = event.usage.completion_tokens ?? 0;
      }
      const text = event.choices?.[0]?.delta?.content;
      if (text) yield text;
    }
  }
}
