package bridge

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// durableFrom creates or updates the durable consumer ccfg on stream. A
// new consumer starts after the stream's last message, as "deliver new"
// would, but by start sequence: an operator can then reset it to an
// earlier message to publish again from there. An existing one keeps its
// start (a consumer made as "deliver new" by an earlier version stays one,
// and cannot be reset). When another node creates it at the same moment,
// its start is kept.
func durableFrom(ctx context.Context, js jetstream.JetStream, stream string, ccfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	for try := 0; ; try++ {
		old, err := js.Consumer(ctx, stream, ccfg.Durable)
		switch {
		case err == nil:
			info := old.CachedInfo()
			ccfg.DeliverPolicy, ccfg.OptStartSeq, ccfg.OptStartTime = info.Config.DeliverPolicy, info.Config.OptStartSeq, info.Config.OptStartTime
			return js.UpdateConsumer(ctx, stream, ccfg)
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return nil, err
		}
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return nil, err
		}
		ccfg.DeliverPolicy, ccfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, st.CachedInfo().State.LastSeq+1
		cons, err := js.CreateConsumer(ctx, stream, ccfg)
		if errors.Is(err, jetstream.ErrConsumerExists) && try == 0 {
			continue // made meanwhile, by another node: keep its start
		}
		return cons, err
	}
}
