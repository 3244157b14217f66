<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 429 too_many_events: the instance keeps as many early events as it may; send again once it has taken some. */
class TooManyEventsException extends OrbitException
{
}
